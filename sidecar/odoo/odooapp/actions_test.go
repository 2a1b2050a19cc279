package odooapp_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/odoo-whatsapp/whatsapp-sidecar/sidecar/odoo/odooapp"
)

// analyzeAction parses a server action's code with Python's own parser and reports
// what it touches. Names bound to env['whatsapp.*'] (and, for an action on a sidecar
// model, records and record) are sidecar recordsets, and so is anything computed from
// them or iterated out of them; every create/write/unlink must be called on one, and
// nothing else may be assigned to. Imports, sudo, cursors and dunders are refused.
const analyzeAction = `
import ast, json, sys
model = sys.argv[1]
tree = ast.parse(sys.stdin.read())
sidecar = {'records', 'record'} if model.startswith('whatsapp.') else set()
problems, env_models, writes = [], [], []

def root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None

def is_sidecar(node):
    for n in ast.walk(node):
        if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == 'env':
            if isinstance(n.slice, ast.Constant) and str(n.slice.value).startswith('whatsapp.'):
                return True
        if isinstance(n, ast.Name) and n.id in sidecar:
            return True
    return False

# Bindings first, to a fixed point: a name is sidecar once anything it is bound from is.
for _ in range(5):
    for n in ast.walk(tree):
        if isinstance(n, (ast.Assign, ast.AugAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for tgt in targets:
                if isinstance(tgt, ast.Name) and is_sidecar(n.value):
                    sidecar.add(tgt.id)
        if isinstance(n, ast.For) and isinstance(n.target, ast.Name) and is_sidecar(n.iter):
            sidecar.add(n.target.id)

for n in ast.walk(tree):
    if isinstance(n, (ast.Import, ast.ImportFrom)):
        problems.append('import')
    if isinstance(n, ast.Attribute) and (n.attr in ('sudo', 'cr', '_cr', 'with_user', 'execute') or n.attr.startswith('__')):
        problems.append('uses .' + n.attr)
    if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == 'env':
        env_models.append(n.slice.value if isinstance(n.slice, ast.Constant) else '?')
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ('create', 'write', 'unlink', 'update'):
        r = root(n.func.value)
        if n.func.attr == 'update' and r == 'action':
            continue  # the returned action dict
        writes.append(n.func.attr)
        if not is_sidecar(n.func.value):
            problems.append('%s on %s, not a sidecar model' % (n.func.attr, ast.unparse(n.func.value)))
    if isinstance(n, (ast.Assign, ast.AugAssign)):
        for tgt in (n.targets if isinstance(n, ast.Assign) else [n.target]):
            if isinstance(tgt, (ast.Attribute, ast.Subscript)) and root(tgt) != 'action':
                problems.append('assigns ' + ast.unparse(tgt))
json.dump({'problems': problems, 'env_models': env_models, 'writes': writes,
           'sets_action': any(isinstance(n, ast.Name) and n.id == 'action' and isinstance(n.ctx, ast.Store) for n in ast.walk(tree))}, sys.stdout)
`

type actionAnalysis struct {
	Problems   []string `json:"problems"`
	EnvModels  []string `json:"env_models"`
	Writes     []string `json:"writes"`
	SetsAction bool     `json:"sets_action"`
}

func analyze(t *testing.T, model, code string) actionAnalysis {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: cannot check that the server actions' code compiles")
	}
	cmd := exec.Command(python, "-c", analyzeAction, model)
	cmd.Stdin = strings.NewReader(code)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 rejects the code: %v\n%s", err, stderr.String())
	}
	var a actionAnalysis
	if err := json.Unmarshal(stdout.Bytes(), &a); err != nil {
		t.Fatalf("analysis output %q: %v", stdout.String(), err)
	}
	return a
}

// Each server action's code, as Install wrote it, compiles as Python and only creates
// or writes rows of the sidecar's models; it sets `action` so the user sees what
// happened.
func TestServerActionCodeCompilesAndOnlyTouchesSidecarModels(t *testing.T) {
	t.Parallel()
	conn := installed(t)
	rows := mustRows(t, conn, `
		SELECT json_build_object('xmlid', d.name, 'model', s.model_name, 'code', s.code)::text FROM ir_act_server s
		JOIN ir_model_data d ON d.res_id = s.id AND d.model = 'ir.actions.server' AND d.module = 'whatsapp_sidecar'`)
	if len(rows) != len(odooapp.ServerActions) {
		t.Fatalf("%d server actions installed, want %d", len(rows), len(odooapp.ServerActions))
	}
	for _, row := range rows {
		var a struct{ XMLID, Model, Code string }
		if err := json.Unmarshal([]byte(row), &a); err != nil {
			t.Fatal(err)
		}
		t.Run(a.XMLID, func(t *testing.T) {
			got := analyze(t, a.Model, a.Code)
			for _, p := range got.Problems {
				t.Errorf("code on %s: %s", a.Model, p)
			}
			for _, m := range got.EnvModels {
				if !strings.HasPrefix(m, "whatsapp.") {
					t.Errorf("code reaches env[%q], not a sidecar model", m)
				}
			}
			if len(got.Writes) == 0 {
				t.Errorf("code writes nothing: an action must queue or request something")
			}
			if !got.SetsAction {
				t.Errorf("code sets no `action`: the user gets no feedback")
			}
		})
	}
}

// The analysis must be able to fail: code writing on the order itself, or importing.
func TestActionAnalysisRefusesWritesOutsideSidecarModels(t *testing.T) {
	t.Parallel()
	cases := []struct{ model, code, want string }{
		{"sale.order", "for order in records:\n    order.write({'state': 'sale'})\naction = {}", "write on order"},
		{"sale.order", "record.note = 'x'\naction = {}", "assigns record.note"},
		{"sale.order", "env['res.partner'].create({'name': 'x'})", "create on env['res.partner']"},
		{"whatsapp.message", "import os", "import"},
		{"whatsapp.message", "records.sudo().write({'status': 'queued'})", "uses .sudo"},
	}
	for _, c := range cases {
		got := analyze(t, c.model, c.code)
		if !strings.Contains(strings.Join(got.Problems, "; "), c.want) {
			t.Errorf("%q on %s: problems %v, want one with %q", c.code, c.model, got.Problems, c.want)
		}
	}
}
