// Package layout holds the test of the rule that imports only go down:
// every product package of the module sits in one row of the layer table
// of docs/ARCHITECTURE.md and imports only packages of rows below its own;
// no product package imports test or tool code (internal/testing/...,
// bench, examples, the test binaries under cmd/) outside its _test.go
// files. The table in the document is the rule: the test reads it from
// there, so the two cannot differ.
package layout
