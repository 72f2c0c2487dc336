package awsemu

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// decodeExact decodes the generic JSON value raw into out after dropping
// every object member whose name is not exactly a member of out's type.
// encoding/json matches names case-insensitively; AWS does not, so without
// this a request AWS would ignore a member of could pass here.
func decodeExact(raw any, out any) error {
	pruned := prune(raw, reflect.TypeOf(out))
	b, err := json.Marshal(pruned)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// parseJSON decodes body keeping numbers exact.
func parseJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailingData
	}
	return v, nil
}

type jsonError string

func (e jsonError) Error() string { return string(e) }

const errTrailingData = jsonError("trailing data after the JSON value")

// prune returns v without the object members t has no exact field for.
// Values whose JSON kind does not fit t are left for json.Unmarshal to
// report.
func prune(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return pruneObject(v, t)
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok || t.Elem().Kind() == reflect.Uint8 {
			return v
		}
		for i := range arr {
			arr[i] = prune(arr[i], t.Elem())
		}
		return arr
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		for k := range m {
			m[k] = prune(m[k], t.Elem())
		}
		return m
	}
	return v
}

func pruneObject(v any, t reflect.Type) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	fields := jsonFields(t)
	out := make(map[string]any, len(m))
	for k, val := range m {
		if ft, ok := fields[k]; ok {
			out[k] = prune(val, ft)
		}
	}
	return out
}

// jsonFields maps the JSON member names of struct type t to field types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tagName, _, _ := strings.Cut(tag, ",")
			if tagName == "-" {
				continue
			}
			if tagName != "" {
				name = tagName
			}
		}
		fields[name] = f.Type
	}
	return fields
}
