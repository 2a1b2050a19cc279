// Package odoosim writes to a database what Odoo 16's ORM writes: the recorded
// ORM trace (testdata/odoo16/orm_trace.sql) replayed step by step, and small named
// helpers (new quotation, confirm, post an invoice, register a payment) built from the
// same statements, for tests and the demo, which need more rows than the demo data holds.
package odoosim

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Step is one user action of the trace; Odoo ran its statements in one transaction.
type Step struct {
	Number     int
	Title      string
	Statements []string
}

var stepHeader = regexp.MustCompile(`^-- ==== step (\d+) (.*)$`)

// LoadTrace parses an ORM trace file.
func LoadTrace(path string) ([]Step, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load trace: %w", err)
	}
	defer f.Close()
	var steps []Step
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := stepHeader.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			steps = append(steps, Step{Number: n, Title: m[2]})
			continue
		}
		if strings.HasPrefix(line, "--") || strings.TrimSpace(line) == "" {
			continue
		}
		if len(steps) == 0 {
			return nil, fmt.Errorf("load trace: statement before the first step header")
		}
		last := &steps[len(steps)-1]
		last.Statements = append(last.Statements, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load trace: %w", err)
	}
	return steps, nil
}

// Replay runs trace steps against a database that already holds other rows with the
// trace's ids (the demo data does): each INSERT ... RETURNING id gets a fresh id, and
// the statements after it that name the recorded id are rewritten to the fresh one.
// Document names (S00021, INV/2026/00005, PBNK1/...) are made unique too, because
// account_move's name is unique per journal once posted.
type Replay struct {
	ids   map[string]map[int]int // table -> recorded id -> replayed id
	fresh map[string][]int       // table -> replayed ids not yet matched to a recorded id
	names map[string]string
}

// NewReplay starts a replay with no ids mapped.
func NewReplay() *Replay {
	return &Replay{ids: map[string]map[int]int{}, fresh: map[string][]int{}, names: map[string]string{}}
}

// Map makes statements naming table's recorded id use id instead, for steps whose
// record was not created by an earlier replayed step (the trace's cancel step).
func (r *Replay) Map(table string, recorded, id int) {
	if r.ids[table] == nil {
		r.ids[table] = map[int]int{}
	}
	r.ids[table][recorded] = id
}

// ID returns the replayed id of table's recorded id, 0 if none yet.
func (r *Replay) ID(table string, recorded int) int { return r.ids[table][recorded] }

var (
	tableOf   = regexp.MustCompile(`^(?:INSERT INTO|UPDATE) "(\w+)"`)
	whereIDIn = regexp.MustCompile(`WHERE id IN \(([\d, ]+)\)`)
	docName   = regexp.MustCompile(`'((?:S|INV/\d{4}/|PBNK1/\d{4}/)\d{5})'`)
	nameSeq   atomic.Int64
)

// Run executes one step in one transaction, as Odoo did.
func (r *Replay) Run(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, step Step) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("step %d: begin: %w", step.Number, err)
	}
	defer tx.Rollback(ctx)
	if err := r.RunIn(ctx, tx, step); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("step %d: commit: %w", step.Number, err)
	}
	return nil
}

// RunIn executes the step's statements inside the caller's transaction.
func (r *Replay) RunIn(ctx context.Context, tx pgx.Tx, step Step) error {
	for _, stmt := range step.Statements {
		m := tableOf.FindStringSubmatch(stmt)
		if m == nil {
			return fmt.Errorf("step %d: unexpected statement %.60q", step.Number, stmt)
		}
		table := m[1]
		stmt, err := r.rewrite(table, stmt)
		if err != nil {
			return fmt.Errorf("step %d: %w", step.Number, err)
		}
		if strings.HasPrefix(stmt, "INSERT") {
			var id int
			if err := tx.QueryRow(ctx, stmt).Scan(&id); err != nil {
				return fmt.Errorf("step %d: %.60s: %w", step.Number, stmt, err)
			}
			r.fresh[table] = append(r.fresh[table], id)
			continue
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("step %d: %.60s: %w", step.Number, stmt, err)
		}
	}
	return nil
}

func (r *Replay) rewrite(table, stmt string) (string, error) {
	var err error
	stmt = whereIDIn.ReplaceAllStringFunc(stmt, func(match string) string {
		var out []string
		for _, field := range strings.Split(whereIDIn.FindStringSubmatch(match)[1], ",") {
			recorded, _ := strconv.Atoi(strings.TrimSpace(field))
			id, ok := r.ids[table][recorded]
			if !ok {
				// The first statement naming an unknown id is about the row the
				// latest INSERT of this table created.
				fresh := r.fresh[table]
				if len(fresh) == 0 {
					err = fmt.Errorf("%s id %d: no replayed INSERT to map it to (use Map)", table, recorded)
					return match
				}
				id = fresh[0]
				r.fresh[table] = fresh[1:]
				r.Map(table, recorded, id)
			}
			out = append(out, strconv.Itoa(id))
		}
		return "WHERE id IN (" + strings.Join(out, ", ") + ")"
	})
	stmt = docName.ReplaceAllStringFunc(stmt, func(match string) string {
		old := strings.Trim(match, "'")
		if _, ok := r.names[old]; !ok {
			prefix := old[:len(old)-5]
			r.names[old] = fmt.Sprintf("%s%d", prefix, 900000+nameSeq.Add(1))
		}
		return "'" + r.names[old] + "'"
	})
	return stmt, err
}

// Name returns the name a recorded document name was replayed as.
func (r *Replay) Name(recorded string) string { return r.names[recorded] }
