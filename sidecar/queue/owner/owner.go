// Package owner gives a worker an identity whose claims die with it. An Owner holds
// a session-level advisory lock, keyed by its id, on a database connection of its
// own for as long as it lives; rows it claims record that id. A claim is valid while
// its owner's lock is held: when the process dies (kill -9, a crash, a host going
// down) or its connection does (a database restart), PostgreSQL releases the lock at
// once, and the rows it held can be taken over at once, without waiting for any
// lease to expire.
//
// Statements run with Do execute on the owner's own connection: one that succeeds
// ran while the lock was held. That is the fence a sender needs before a request
// leaves for Meta: "this row is still mine".
package owner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// lockClass is the first key of the owners' advisory locks (pg_advisory_lock(int4,
// int4)); the owner's id is the second. 0x57410000 reads "WA".
const lockClass = 0x57410000

// Live is a SQL subquery listing the ids of the owners alive in this database, for
// `claimed_by IN (...)` and `NOT IN`. A lock taken with two int4 keys shows in
// pg_locks as classid (key 1), objid (key 2) and objsubid 2.
const Live = `(SELECT l.objid::bigint::integer FROM pg_catalog.pg_locks l
    WHERE l.locktype = 'advisory' AND l.classid = 1463877632 AND l.objsubid = 2 AND l.granted
      AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))`

// ErrLost is returned by Do once the owner's connection has failed: its claims are
// void, and a new Owner must be acquired.
var ErrLost = errors.New("owner lost its database connection: its claims are void")

// Owner is a live identity. Its methods are safe for concurrent use; statements run
// with Do are serialised on the one connection.
type Owner struct {
	// ID is recorded on claimed rows (claimed_by).
	ID int32

	mu       sync.Mutex
	conn     *pgx.Conn
	lost     chan struct{}
	lostOnce sync.Once
}

// Acquire opens a connection with connect, takes a free owner id and returns the
// Owner; the caller must Close it.
func Acquire(ctx context.Context, connect func(context.Context) (*pgx.Conn, error)) (*Owner, error) {
	conn, err := connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("owner: connect: %w", err)
	}
	for range 16 {
		id := rand.Int32N(1<<31-1) + 1
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(lockClass), id).Scan(&ok); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("owner: take lock: %w", err)
		}
		if ok {
			return &Owner{ID: id, conn: conn, lost: make(chan struct{})}, nil
		}
	}
	conn.Close(context.WithoutCancel(ctx))
	return nil, errors.New("owner: no free owner id after 16 tries")
}

// Do runs fn on the owner's connection. If the owner is lost, or fn fails because
// the connection did, it returns ErrLost (wrapping fn's error) and the owner stays
// lost.
func (o *Owner) Do(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.lost:
		return ErrLost
	default:
	}
	err := fn(o.conn)
	if err != nil && o.conn.IsClosed() {
		o.markLost()
		return fmt.Errorf("%w: %w", ErrLost, err)
	}
	return err
}

// Lost is closed once the owner's connection has failed (noticed by Do or Watch).
func (o *Owner) Lost() <-chan struct{} { return o.lost }

func (o *Owner) markLost() { o.lostOnce.Do(func() { close(o.lost) }) }

// Watch pings the connection every interval until ctx ends, so a lost connection is
// noticed even while the owner is idle.
func (o *Owner) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.lost:
			return
		case <-t.C:
			pingCtx, cancel := context.WithTimeout(ctx, interval)
			err := o.Do(pingCtx, func(conn *pgx.Conn) error { return conn.Ping(pingCtx) })
			cancel()
			if err != nil && ctx.Err() == nil && !errors.Is(err, ErrLost) {
				// A ping that timed out on a live-looking connection: treat it as lost
				// rather than keep claims nobody can be sure of.
				o.mu.Lock()
				_ = o.conn.Close(context.WithoutCancel(ctx))
				o.markLost()
				o.mu.Unlock()
			}
		}
	}
}

// Close releases the owner's lock (by closing its connection): its claims are void.
func (o *Owner) Close(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.markLost()
	return o.conn.Close(ctx)
}

// Alive says whether owner id still holds its lock: false once its process or
// connection is gone (PostgreSQL notices a closed connection within moments).
func Alive(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id int32) (bool, error) {
	var alive bool
	if err := q.QueryRow(ctx, `SELECT $1 IN `+Live, id).Scan(&alive); err != nil {
		return false, fmt.Errorf("owner: is %d alive: %w", id, err)
	}
	return alive, nil
}
