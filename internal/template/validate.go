package template

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strings"
)

// finish checks that the rendered body (out[start:]) is well-formed for the
// format. URL and Header values are trimmed of surrounding whitespace.
func (t *Template) finish(out []byte, start int, vars map[string]any) ([]byte, error) {
	body := out[start:]
	switch t.format {
	case JSON:
		if json.Valid(body) {
			return out, nil
		}
		off, msg := jsonProblem(body)
		return out, t.outputError(vars, off, "rendered JSON is not valid: "+msg)
	case XML:
		if off, msg := xmlProblem(body); msg != "" {
			return out, t.outputError(vars, off, "rendered XML is not well-formed: "+msg)
		}
	case FORM:
		if _, err := url.ParseQuery(string(body)); err != nil {
			return out, t.outputError(vars, formProblem(body), "rendered form body does not parse: "+err.Error())
		}
	case URL:
		trimmed := bytes.TrimSpace(body)
		lead := len(body) - len(bytes.TrimLeft(body, " \t\r\n"))
		if msg := urlProblem(string(trimmed)); msg != "" {
			return out, t.outputError(vars, lead, "rendered URL is not valid: "+msg)
		}
		n := copy(out[start:], trimmed)
		out = out[:start+n]
	case Header:
		trimmed := bytes.Trim(body, " \t")
		lead := len(body) - len(bytes.TrimLeft(body, " \t"))
		if i := bytes.IndexAny(trimmed, "\r\n\x00"); i >= 0 {
			what := map[byte]string{'\r': "a carriage return (CR)", '\n': "a line feed (LF)", 0: "a NUL byte"}[trimmed[i]]
			return out, t.outputError(vars, lead+i, "rendered header value contains "+what+", which would split the header")
		}
		n := copy(out[start:], trimmed)
		out = out[:start+n]
	}
	return out, nil
}

func jsonProblem(body []byte) (int, string) {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset) - 1
		if off < 0 {
			off = 0
		}
		return off, se.Error()
	}
	if err != nil {
		return 0, err.Error()
	}
	return 0, "invalid JSON"
}

// xmlProblem decodes body to the end and checks there is exactly one root
// element and no text outside it. It returns "" when the body is
// well-formed.
func xmlProblem(body []byte) (int, string) {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			msg := err.Error()
			if se, ok := err.(*xml.SyntaxError); ok {
				msg = se.Msg
			}
			return int(d.InputOffset()), msg
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return int(d.InputOffset()), "more than one root element"
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(x)) > 0 {
				return int(d.InputOffset()) - len(x), "text outside the root element"
			}
		}
	}
	if roots == 0 {
		return 0, "no root element"
	}
	return 0, ""
}

func formProblem(body []byte) int {
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case ';':
			return i
		case '%':
			if i+2 >= len(body) || !isHex(body[i+1]) || !isHex(body[i+2]) {
				return i
			}
		}
	}
	return 0
}

func urlProblem(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err.Error()
		}
		return err.Error()
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return "not an absolute URL (want http:// or https://)"
		}
		return "scheme " + u.Scheme + " is not http or https"
	}
	if u.Host == "" {
		return "no host"
	}
	if strings.ContainsAny(s, " \t") {
		return "contains spaces"
	}
	return ""
}

// outputError renders again, recording where each piece of output came
// from, and reports msg at the template position that produced output
// byte off.
func (t *Template) outputError(vars map[string]any, off int, msg string) error {
	r := &renderer{}
	r.reset(t, vars, 0)
	r.tracing = true
	out, err := r.nodes(nil, t.root)
	if err != nil || len(r.trace) == 0 {
		return t.errorAt(0, msg)
	}
	if off > len(out) {
		off = len(out)
	}
	best := -1
	for i, s := range r.trace {
		if s.out <= off {
			best = i
		}
	}
	if best < 0 {
		return t.errorAt(0, msg)
	}
	s := r.trace[best]
	pos := s.src
	if s.literal {
		end := len(out)
		if best+1 < len(r.trace) {
			end = r.trace[best+1].out
		}
		d := off - s.out
		if d >= end-s.out && d > 0 {
			d = end - s.out - 1
		}
		if d > 0 {
			pos += d
		}
	}
	return t.errorAt(pos, msg)
}
