package sidecar_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// The layout is the architecture: test and demo support (sidecar/devkit) is never
// imported by the daemon's packages, and Meta's side knows nothing of Odoo's.
func TestLayoutBoundaries(t *testing.T) {
	const module = "github.com/odoo-whatsapp/whatsapp-sidecar/"
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		dir := filepath.ToSlash(filepath.Join("sidecar", path))
		for _, imp := range pkg.Imports {
			rel, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			switch {
			case strings.HasPrefix(rel, "sidecar/devkit") && !strings.HasPrefix(dir, "sidecar/devkit"):
				t.Errorf("%s imports %s: test and demo support stays out of the daemon", dir, rel)
			case strings.HasPrefix(dir, "sidecar/whatsapp") && strings.HasPrefix(rel, "sidecar/odoo"):
				t.Errorf("%s imports %s: Meta's side knows nothing of Odoo's", dir, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
