package all_test

import (
	"testing"

	"github.com/cutover/cutover/steps"
	_ "github.com/cutover/cutover/steps/all"
)

// TestRestartsIsDeclared: "this step restarts the service" is a property a
// step type declares (the engine re-applies drains after such a step), not
// one inferred from its kind and downtime: of the registered types only
// restart declares it, although drain is a downtime type too.
func TestRestartsIsDeclared(t *testing.T) {
	for _, name := range steps.Names() {
		typ, _ := steps.Lookup(name)
		if want := name == "restart"; typ.Restarts != want {
			t.Errorf("step type %s: Restarts = %v, want %v", name, typ.Restarts, want)
		}
	}
	if typ, _ := steps.Lookup("restart"); !typ.Downtime || typ.Kind != steps.KindRedo {
		t.Errorf("restart: downtime %v, kind %v: a restart starts the window and is redone in a rollback", typ.Downtime, typ.Kind)
	}
}
