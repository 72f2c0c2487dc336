package hcldecode

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/cutover/cutover/internal/secret"
)

type describedInner struct {
	ID string `hcl:"id" sensitive:"true" doc:"An ID."`
}

type described struct {
	Name  string            `hcl:"name" doc:"The name."`
	Count int               `hcl:"count,optional" default:"3" doc:"How many."`
	Tags  map[string]string `hcl:"tags,optional" doc:"Tags."`
	Ref   hcl.Expression    `hcl:"ref,optional" type:"reference to kms.<name>" doc:"A store."`
	Token string            `hcl:"token,optional" sensitive:"true" doc:"A token."`
	Inner *describedInner   `hcl:"inner,block" doc:"An inner block."`
	Many  []describedInner  `hcl:"many,block" doc:"Many blocks."`
}

func TestDescribe(t *testing.T) {
	b, err := Describe(&described{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range b.Attrs {
		got = append(got, strings.Join([]string{a.Name, a.Type, a.Default, flag(a.Required, "req"), flag(a.Sensitive, "sens")}, ":"))
	}
	want := "name:string::req:-,count:number:3:-:-,tags:map(string)::-:-,ref:reference to kms.<name>::-:-,token:string::-:sens"
	if strings.Join(got, ",") != want {
		t.Fatalf("attrs = %s\nwant    %s", strings.Join(got, ","), want)
	}
	if len(b.Blocks) != 2 || b.Blocks[0].Name != "inner" || b.Blocks[0].Repeated || !b.Blocks[1].Repeated ||
		len(b.Blocks[0].Attrs) != 1 || !b.Blocks[0].Attrs[0].Sensitive {
		t.Fatalf("blocks = %+v", b.Blocks)
	}
}

func flag(b bool, name string) string {
	if b {
		return name
	}
	return "-"
}

func TestDescribeUndocumented(t *testing.T) {
	type bad struct {
		Expr hcl.Expression `hcl:"expr" doc:"No type."`
		Bare string         `hcl:"bare"`
	}
	_, err := Describe(bad{})
	if !errors.Is(err, ErrUndocumented) || !strings.Contains(err.Error(), `("expr") needs a type tag`) || !strings.Contains(err.Error(), `("bare") has no doc tag`) {
		t.Fatalf("err = %v", err)
	}
}

// TestSensitiveTagRecordsSecret: DecodeBody records a field tagged
// sensitive in the secret set although its value is a plain literal, in a
// nested block too.
func TestSensitiveTagRecordsSecret(t *testing.T) {
	src := `name = "n"
token = "tok-literal-1"
inner {
  id = "id-literal-2"
}
`
	f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	set := &secret.Set{}
	var d described
	if diags := (&Context{Secrets: set}).DecodeBody(f.Body, &d); diags.HasErrors() {
		t.Fatal(diags)
	}
	got := set.Redact("tok-literal-1 id-literal-2 n")
	if strings.Contains(got, "literal") || !strings.HasSuffix(got, " n") {
		t.Fatalf("redacted = %q", got)
	}
}
