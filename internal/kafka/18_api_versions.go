package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions: v0-4.
//
// Answers from the registry of implemented APIs. A version above ours is
// answered at v0 with UNSUPPORTED_VERSION and our ApiVersions range, so the
// client retries with one we speak (KIP-511); the response header is always
// v0, even for flexible versions.

const apiVersionsKey = 18

func init() { register(apiVersionsKey, 0, 4, handleApiVersions) }

func handleApiVersions(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	for _, a := range supportedAPIs() {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return now(resp)
}

func unsupportedApiVersions(int16) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	a := apis[apiVersionsKey]
	k := kmsg.NewApiVersionsResponseApiKey()
	k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
	resp.ApiKeys = append(resp.ApiKeys, k)
	return resp
}
