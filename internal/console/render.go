package console

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"unicode/utf8"
)

// Formats a key, value or header can be shown in. "auto" picks JSON if the
// bytes are JSON, text if they are UTF-8, else hex.
var formats = map[string]bool{"auto": true, "text": true, "json": true, "hex": true}

// shown is bytes rendered for a person: Text in Format, cut at
// MaxShownBytes of the original (Truncated), Size the full length. Null
// (no key, a nil value) is Format "null".
type shown struct {
	Text      string `json:"text"`
	Format    string `json:"format"`
	Size      int    `json:"size"`
	Truncated bool   `json:"truncated,omitempty"`
}

// render shows b in the wanted format, falling back to the nearest one
// that fits (JSON that does not parse shows as text; bytes that are not
// UTF-8 show as hex), so a person always sees something faithful.
func render(b []byte, isNull bool, format string) shown {
	if isNull {
		return shown{Format: "null"}
	}
	s := shown{Size: len(b)}
	if len(b) > MaxShownBytes {
		b, s.Truncated = b[:MaxShownBytes], true
		// Do not let the cut split a character and turn the text into hex.
		for i := 0; i < utf8.UTFMax-1 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	if format == "auto" || format == "json" {
		// A cut value is no valid JSON; show it as text then.
		if !s.Truncated && json.Valid(b) && len(bytes.TrimSpace(b)) > 0 {
			var out bytes.Buffer
			if json.Indent(&out, b, "", "  ") == nil {
				s.Text, s.Format = out.String(), "json"
				return s
			}
		}
		format = "text"
	}
	if format == "text" && utf8.Valid(b) {
		s.Text, s.Format = string(b), "text"
		return s
	}
	s.Text, s.Format = hex.EncodeToString(b), "hex"
	return s
}
