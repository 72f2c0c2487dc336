package rotatejwt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/steps"
)

// VaultBlock is the optional `vault {}` block: a KV v2 secret that holds the
// list too.
type VaultBlock struct {
	Address string `hcl:"address" doc:"Vault's URL, such as \"https://vault.internal:8200\"."`
	Token   string `hcl:"token" sensitive:"true" doc:"A Vault token that can read and write the secret."`
	Mount   string `hcl:"mount,optional" default:"\"secret\"" doc:"The KV v2 engine's mount path."`
	Path    string `hcl:"path" doc:"The secret's path under the mount."`
	Field   string `hcl:"field,optional" default:"the step's variable" doc:"The secret's field that holds the list."`
	CAFile  string `hcl:"ca_file,optional" doc:"PEM file of CAs to trust for an https address; relative to the plan's directory."`
}

type vaultTarget struct {
	VaultBlock
}

func (b *VaultBlock) target(dc *hcldecode.Context, variable string) *vaultTarget {
	t := &vaultTarget{VaultBlock: *b}
	if t.Mount == "" {
		t.Mount = "secret"
	}
	if t.Field == "" {
		t.Field = variable
	}
	t.CAFile = dc.Path(t.CAFile)
	dc.Secrets.Add(t.Token)
	return t
}

func (v *vaultTarget) describe() string {
	return fmt.Sprintf("Vault KV v2 %s/data/%s field %s at %s", v.Mount, v.Path, v.Field, v.Address)
}

func (v *vaultTarget) client() (*vaultapi.Client, error) {
	cfg := vaultapi.DefaultConfig()
	cfg.HttpClient.Transport = httpx.Transport()
	cfg.Address = v.Address
	if v.CAFile != "" {
		if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: v.CAFile}); err != nil {
			return nil, err
		}
	}
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(v.Token)
	return c, nil
}

// current reads the field's value; exists is false when the secret or field
// is absent.
func (v *vaultTarget) current(ctx context.Context) (value string, exists bool, err error) {
	c, err := v.client()
	if err != nil {
		return "", false, err
	}
	s, err := c.KVv2(v.Mount).Get(ctx, v.Path)
	if err != nil {
		if isNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("read %s: %w", v.describe(), err)
	}
	str, ok := s.Data[v.Field].(string)
	return str, ok, nil
}

func (v *vaultTarget) check(ctx context.Context) error {
	_, _, err := v.current(ctx)
	return err
}

// saved is Vault's value before the step, kept as an undo blob (secret).
type saved struct {
	Exists bool   `json:"exists"`
	Value  string `json:"value"`
}

// previous returns the value before the step first ran, saving it first.
func (v *vaultTarget) previous(ctx context.Context, rt steps.Runtime) (string, error) {
	if data, ok, err := rt.LoadBlob("vault-previous"); err != nil || ok {
		var s saved
		if ok {
			err = json.Unmarshal(data, &s)
		}
		return s.Value, err
	}
	value, exists, err := v.current(ctx)
	if err != nil {
		return "", err
	}
	data, _ := json.Marshal(saved{Exists: exists, Value: value})
	return value, rt.SaveBlob("vault-previous", data)
}

// write sets the field, keeping the secret's other fields (a new secret is
// created when there is none).
func (v *vaultTarget) write(ctx context.Context, rt steps.Runtime, list string) error {
	if _, err := v.previous(ctx, rt); err != nil {
		return err
	}
	c, err := v.client()
	if err != nil {
		return err
	}
	kv := c.KVv2(v.Mount)
	if _, err = kv.Patch(ctx, v.Path, map[string]any{v.Field: list}); isNotFound(err) {
		_, err = kv.Put(ctx, v.Path, map[string]any{v.Field: list})
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", v.describe(), err)
	}
	return nil
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	if re, ok := err.(*vaultapi.ResponseError); ok && re.StatusCode == http.StatusNotFound {
		return true
	}
	return strings.Contains(err.Error(), "not found")
}

// restore writes back the saved value, or removes the field the step added.
func (v *vaultTarget) restore(ctx context.Context, rt steps.Runtime) error {
	data, ok, err := rt.LoadBlob("vault-previous")
	if err != nil || !ok {
		return err
	}
	var s saved
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	c, err := v.client()
	if err != nil {
		return err
	}
	var value any = s.Value
	if !s.Exists {
		value = nil
	}
	if _, err := c.KVv2(v.Mount).Patch(ctx, v.Path, map[string]any{v.Field: value}); err != nil {
		return fmt.Errorf("restore %s: %w", v.describe(), err)
	}
	return nil
}
