package healthcheck

import (
	"os/exec"

	"github.com/zclconf/go-cty/cty"
)

// cfgVal stands for a minio.<name> reference in steps built by hand.
var cfgVal = cty.StringVal("minio.test")

// runQuiet runs argv and returns its combined output.
func runQuiet(argv []string) (string, error) {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	return string(out), err
}
