package rocketmq

// Request codes (RocketMQ's RequestCode) that Ferry serves or sends. Each
// served code has its own file, named by number and name.
const (
	codeSendMessage             int16 = 10
	codeUpdateAndCreateTopic    int16 = 17
	codePullMessage             int16 = 11
	codeQueryMessage            int16 = 12
	codeQueryConsumerOffset     int16 = 14
	codeUpdateConsumerOffset    int16 = 15
	codeSearchOffsetByTimestamp int16 = 29
	codeGetMaxOffset            int16 = 30
	codeGetMinOffset            int16 = 31
	codeViewMessageByID         int16 = 33
	codeHeartBeat               int16 = 34
	codeUnregisterClient        int16 = 35
	codeConsumerSendMsgBack     int16 = 36
	codeEndTransaction          int16 = 37
	codeGetConsumerListByGroup  int16 = 38
	codeCheckTransactionState   int16 = 39 // broker → producer
	codeNotifyConsumerIdsChange int16 = 40 // broker → consumer
	codeLockBatchMQ             int16 = 41
	codeUnlockBatchMQ           int16 = 42
	codeGetRouteInfoByTopic     int16 = 105
	codeGetBrokerClusterInfo    int16 = 106
	codeGetAllTopicList         int16 = 206
	codeDeleteTopicInBroker     int16 = 215
	codeDeleteTopicInNamesrv    int16 = 216
	codeSendMessageV2           int16 = 310
	codeSendBatchMessage        int16 = 320
)

// Response codes (RocketMQ's ResponseCode and RemotingSysResponseCode).
const (
	ResSuccess                 int16 = 0
	ResSystemError             int16 = 1
	ResSystemBusy              int16 = 2
	ResRequestCodeNotSupported int16 = 3
	ResFlushDiskTimeout        int16 = 10
	ResSlaveNotAvailable       int16 = 11
	ResFlushSlaveTimeout       int16 = 12
	ResMessageIllegal          int16 = 13
	ResServiceNotAvailable     int16 = 14
	ResNoPermission            int16 = 16
	ResTopicNotExist           int16 = 17
	ResPullNotFound            int16 = 19
	ResPullRetryImmediately    int16 = 20
	ResPullOffsetMoved         int16 = 21
	ResQueryNotFound           int16 = 22
	ResSubscriptionParseFailed int16 = 23
	ResSubscriptionNotExist    int16 = 24
	ResSubscriptionNotLatest   int16 = 25
	ResInvalidParameter        int16 = 29
	ResConsumerNotOnline       int16 = 206
	ResNotLeaderForQueue       int16 = 501
)
