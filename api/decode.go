package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// decodeBody reads the JSON request body into v: sent as application/json
// (415 otherwise), at most the configured number of bytes (413), a JSON
// object with no unknown field (400 naming it), nothing after it. Errors
// name the field where encoding/json tells.
func (h *Handler) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "request body: larger than %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, codeMalformedJSON, "request body: %v", err)
	}
	return decodeJSON(body, v)
}

// checkContentType accepts application/json, with no parameter but
// charset=utf-8 (JSON is UTF-8, RFC 8259 §8.1). Requiring it, also when the
// header is missing, keeps a browser on another site from sending a body
// without a CORS preflight (a form posts text/plain or form data).
func checkContentType(ct string) error {
	if ct == "" {
		return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMTy, "Content-Type is missing: send the body as application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	ok := err == nil && mt == "application/json"
	for k, v := range params {
		ok = ok && k == "charset" && strings.EqualFold(v, "utf-8")
	}
	if !ok {
		return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMTy, "Content-Type %q: send application/json (charset utf-8, if any)", ct)
	}
	return nil
}

func decodeJSON(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errorf(http.StatusBadRequest, codeMalformedJSON, "request body: empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		return errorf(http.StatusBadRequest, codeMalformedJSON, "request body: not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, codeMalformedJSON, "request body: data after the JSON object")
	}
	return nil
}

// jsonError turns an encoding/json error into a 400 naming the field.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		ae  *apiError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &syn):
		return errorf(http.StatusBadRequest, codeMalformedJSON, "request body: malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, codeMalformedJSON, "request body: JSON ends too early")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "request body"
		}
		return errorf(http.StatusBadRequest, codeInvalid, "%s: got JSON %s, want %s", field, typ.Value, jsonKind(typ.Type))
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return errorf(http.StatusBadRequest, codeUnknownField, "unknown field %s", name)
	}
	return errorf(http.StatusBadRequest, codeMalformedJSON, "request body: %s", strings.TrimPrefix(msg, "json: "))
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Interface:
		return "value"
	default:
		return fmt.Sprintf("number (%s)", t.Kind())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The status line is already out; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}
