package rocketmq

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Flag bits of a command (RemotingCommand's flag field).
const (
	flagResponse = 1 << 0 // the frame answers the request with the same opaque
	flagOneway   = 1 << 1 // the sender wants no answer
)

// SerializeType is how a frame's header is encoded: the high byte of the
// header-length field.
type SerializeType byte

const (
	SerializeJSON   SerializeType = 0
	SerializeBinary SerializeType = 1 // RocketMQ's own (RocketMQSerializable)
)

// languageGo is the language code Ferry answers with (Ferry is written in
// Go; clients only log it).
const languageGo = 9

// languages maps the JSON names of LanguageCode to their binary codes.
var languages = map[string]byte{
	"JAVA": 0, "CPP": 1, "DOTNET": 2, "PYTHON": 3, "DELPHI": 4, "ERLANG": 5,
	"RUBY": 6, "OTHER": 7, "HTTP": 8, "GO": 9, "PHP": 10, "OMS": 11, "RUST": 12,
}

// Command is one remoting frame: a request, a response, or a oneway
// request. ExtFields carries the request or response header fields, every
// value a string, as RocketMQ's custom headers are.
type Command struct {
	Code      int16
	Language  byte
	Version   int16
	Opaque    int32
	Flag      int32
	Remark    string
	ExtFields map[string]string
	Body      []byte
	// Serialize is the header encoding: a request's as it came, a
	// response's as it will go (the request's).
	Serialize SerializeType
}

// IsResponse reports whether c answers an earlier request.
func (c *Command) IsResponse() bool { return c.Flag&flagResponse != 0 }

// IsOneway reports whether the sender of request c wants no answer.
func (c *Command) IsOneway() bool { return c.Flag&flagOneway != 0 }

// Field returns header field name ("" when absent).
func (c *Command) Field(name string) string { return c.ExtFields[name] }

// SetField sets header field name.
func (c *Command) SetField(name, value string) {
	if c.ExtFields == nil {
		c.ExtFields = map[string]string{}
	}
	c.ExtFields[name] = value
}

// Errors of reading frames. A frame error closes the connection: the
// stream cannot be resynchronised.
var (
	ErrFrameTooLarge = errors.New("remoting frame over the size limit")
	ErrBadFrame      = errors.New("malformed remoting frame")
)

// minFrame is the smallest frame length: the header-length field alone.
const minFrame = 4

// ReadFrame reads one frame from r: a 4-byte big-endian length of what
// follows, a 4-byte header length whose high byte is the SerializeType,
// the header, and the body (the rest). Frames longer than maxFrame bytes
// are refused before any of their bytes are buffered.
func ReadFrame(r *bufio.Reader, maxFrame int) (*Command, error) {
	return readFrame(r, maxFrame, nil)
}

// readFrame is ReadFrame taking each growth of the frame's buffer from
// grow first (nil: no budget).
func readFrame(r *bufio.Reader, maxFrame int, grow func(n int) error) (*Command, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(lenBuf[:]))
	if n > int64(maxFrame) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d (--max-request-bytes)", ErrFrameTooLarge, n, maxFrame)
	}
	if n < minFrame {
		return nil, fmt.Errorf("%w: length %d is shorter than the header-length field", ErrBadFrame, n)
	}
	frame, err := readN(r, int(n), grow)
	if err != nil {
		return nil, err
	}
	return DecodeFrame(frame)
}

// readChunk is how much of a frame is buffered ahead of its bytes.
const readChunk = 64 << 10

// readN reads exactly n bytes, growing its buffer as they arrive, so a
// frame that announces a large size and never sends it holds no more
// memory than what came.
func readN(r io.Reader, n int, grow func(n int) error) ([]byte, error) {
	var buf []byte
	for len(buf) < n {
		if len(buf) == cap(buf) {
			more := min(n-len(buf), max(len(buf), readChunk))
			if grow != nil {
				if err := grow(more); err != nil {
					return nil, err
				}
			}
			grown := make([]byte, len(buf), len(buf)+more) // exactly what the budget gave
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if len(buf) == n {
				break
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// DecodeFrame decodes a frame without its leading length field.
func DecodeFrame(frame []byte) (*Command, error) {
	if len(frame) < minFrame {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the header-length field", ErrBadFrame, len(frame))
	}
	mark := binary.BigEndian.Uint32(frame)
	st := SerializeType(mark >> 24)
	hlen := int(mark & 0xFFFFFF)
	if hlen > len(frame)-4 {
		return nil, fmt.Errorf("%w: header length %d but %d bytes follow", ErrBadFrame, hlen, len(frame)-4)
	}
	header := frame[4 : 4+hlen]
	var cmd *Command
	var err error
	switch st {
	case SerializeJSON:
		cmd, err = decodeJSONHeader(header)
	case SerializeBinary:
		cmd, err = decodeBinaryHeader(header)
	default:
		return nil, fmt.Errorf("%w: unknown serialize type %d", ErrBadFrame, st)
	}
	if err != nil {
		return nil, err
	}
	cmd.Serialize = st
	if body := frame[4+hlen:]; len(body) > 0 {
		cmd.Body = body
	}
	return cmd, nil
}

// jsonHeader is the JSON header as RemotingSerializable writes it.
type jsonHeader struct {
	Code      int16             `json:"code"`
	Language  jsonLanguage      `json:"language"`
	Version   int16             `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int32             `json:"flag"`
	Remark    string            `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
	// Serialize is what Java's serializer adds; readers ignore it.
	Serialize string `json:"serializeTypeCurrentRPC,omitempty"`
}

// jsonLanguage is a LanguageCode: a name in JSON ("GO"), though a number
// is accepted too.
type jsonLanguage byte

func (l jsonLanguage) MarshalJSON() ([]byte, error) {
	for name, code := range languages {
		if code == byte(l) {
			return strconv.AppendQuote(nil, name), nil
		}
	}
	return []byte(`"OTHER"`), nil
}

func (l *jsonLanguage) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		if code, ok := languages[name]; ok {
			*l = jsonLanguage(code)
		} else {
			*l = jsonLanguage(languages["OTHER"])
		}
		return nil
	}
	var n uint8
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("language is neither a name nor a code: %s", b)
	}
	*l = jsonLanguage(n)
	return nil
}

func decodeJSONHeader(b []byte) (*Command, error) {
	var h jsonHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: JSON header: %v", ErrBadFrame, err)
	}
	return &Command{
		Code: h.Code, Language: byte(h.Language), Version: h.Version, Opaque: h.Opaque,
		Flag: h.Flag, Remark: h.Remark, ExtFields: h.ExtFields,
	}, nil
}

// binaryFixed is the fixed part of a binary header: code(2) language(1)
// version(2) opaque(4) flag(4) remark length(4); the ext fields' length
// (4) follows the remark.
const binaryFixed = 2 + 1 + 2 + 4 + 4 + 4

func decodeBinaryHeader(b []byte) (*Command, error) {
	if len(b) < binaryFixed {
		return nil, fmt.Errorf("%w: binary header of %d bytes is shorter than its fixed part", ErrBadFrame, len(b))
	}
	cmd := &Command{
		Code:     int16(binary.BigEndian.Uint16(b[0:])),
		Language: b[2],
		Version:  int16(binary.BigEndian.Uint16(b[3:])),
		Opaque:   int32(binary.BigEndian.Uint32(b[5:])),
		Flag:     int32(binary.BigEndian.Uint32(b[9:])),
	}
	rest := b[13:]
	remark, rest, err := lenPrefixed(rest, 4, "remark")
	if err != nil {
		return nil, err
	}
	cmd.Remark = string(remark)
	ext, rest, err := lenPrefixed(rest, 4, "ext fields")
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the binary header's ext fields", ErrBadFrame, len(rest))
	}
	for len(ext) > 0 {
		var k, v []byte
		if k, ext, err = lenPrefixed(ext, 2, "ext field name"); err != nil {
			return nil, err
		}
		if v, ext, err = lenPrefixed(ext, 4, "ext field value"); err != nil {
			return nil, err
		}
		cmd.SetField(string(k), string(v))
	}
	return cmd, nil
}

// lenPrefixed splits a field with a size-byte big-endian length off b.
func lenPrefixed(b []byte, size int, what string) (field, rest []byte, err error) {
	if len(b) < size {
		return nil, nil, fmt.Errorf("%w: %s length cut short", ErrBadFrame, what)
	}
	var n uint64
	if size == 2 {
		n = uint64(binary.BigEndian.Uint16(b))
	} else {
		n = uint64(binary.BigEndian.Uint32(b))
	}
	b = b[size:]
	if n > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%w: %s of %d bytes but %d remain", ErrBadFrame, what, n, len(b))
	}
	return b[:n], b[n:], nil
}

// AppendFrame appends cmd as a whole frame (with its length) to dst.
func AppendFrame(dst []byte, cmd *Command) ([]byte, error) {
	var header []byte
	switch cmd.Serialize {
	case SerializeJSON:
		h := jsonHeader{
			Code: cmd.Code, Language: jsonLanguage(cmd.Language), Version: cmd.Version, Opaque: cmd.Opaque,
			Flag: cmd.Flag, Remark: cmd.Remark, ExtFields: cmd.ExtFields, Serialize: "JSON",
		}
		var err error
		if header, err = json.Marshal(h); err != nil {
			return dst, err
		}
	case SerializeBinary:
		header = appendBinaryHeader(nil, cmd)
	default:
		return dst, fmt.Errorf("unknown serialize type %d", cmd.Serialize)
	}
	if len(header) > 0xFFFFFF {
		return dst, fmt.Errorf("header of %d bytes does not fit a remoting frame", len(header))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+len(header)+len(cmd.Body)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(cmd.Serialize)<<24|uint32(len(header)))
	dst = append(dst, header...)
	return append(dst, cmd.Body...), nil
}

func appendBinaryHeader(dst []byte, cmd *Command) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(cmd.Code))
	dst = append(dst, cmd.Language)
	dst = binary.BigEndian.AppendUint16(dst, uint16(cmd.Version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(cmd.Opaque))
	dst = binary.BigEndian.AppendUint32(dst, uint32(cmd.Flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(cmd.Remark)))
	dst = append(dst, cmd.Remark...)
	var ext []byte
	for k, v := range cmd.ExtFields {
		ext = binary.BigEndian.AppendUint16(ext, uint16(len(k)))
		ext = append(ext, k...)
		ext = binary.BigEndian.AppendUint32(ext, uint32(len(v)))
		ext = append(ext, v...)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(ext)))
	return append(dst, ext...)
}
