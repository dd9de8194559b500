package collections

import (
	"context"
	"database/sql"
)

// Statements on the hot paths are prepared once per connection and reused:
// parsing SQL (and compiling the triggers of an INSERT) is otherwise a
// fifth of a record write's cost. The write statements are prepared on the
// single write connection; a transaction picks them up with tx.StmtContext.
const (
	qCollectionSchema = `SELECT id, schema FROM collections WHERE name = ?`
	qCollectionID     = `SELECT id FROM collections WHERE name = ?`
	qCollection       = `SELECT ` + collectionColumns + ` FROM collections WHERE name = ?`
	qInsertRecord     = `INSERT INTO records (id, collection_id, owner_id, data, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	qRefExists = `SELECT 1 FROM records r JOIN collections c ON c.id = r.collection_id
		WHERE r.id = ? AND c.name = ?`
	qRecordInCollection = `SELECT ` + recordColumns + ` FROM records r WHERE r.id = ? AND r.collection_id = ?`
	qUpdateRecord       = `UPDATE records SET data = ?, updated_at = ? WHERE id = ?`
	qGetRecord          = `SELECT c.id, r.id, r.owner_id, r.data, r.created_at, r.updated_at
		FROM collections c LEFT JOIN records r ON r.collection_id = c.id AND r.id = ?
		WHERE c.name = ?`
)

var (
	writeQueries = []string{qCollectionSchema, qCollectionID, qInsertRecord, qRefExists, qRecordInCollection,
		qUpdateRecord}
	readQueries = []string{qCollectionSchema, qCollection, qGetRecord}
)

type statements struct {
	w, r map[string]*sql.Stmt
}

// prepareStatements prepares the hot statements; one that fails (it should
// not) is logged and run unprepared.
func (s *Service) prepareStatements(ctx context.Context) {
	s.stmts = statements{w: map[string]*sql.Stmt{}, r: map[string]*sql.Stmt{}}
	for _, set := range []struct {
		db      *sql.DB
		queries []string
		into    map[string]*sql.Stmt
	}{{s.db.W, writeQueries, s.stmts.w}, {s.db.R, readQueries, s.stmts.r}} {
		for _, q := range set.queries {
			st, err := set.db.PrepareContext(ctx, q)
			if err != nil {
				s.log.Warn("prepare statement", "query", q, "error", err)
				continue
			}
			set.into[q] = st
		}
	}
}

func (s *Service) txRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.stmts.w[q]; st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

func (s *Service) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := s.stmts.w[q]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

func (s *Service) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.stmts.r[q]; st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.R.QueryRowContext(ctx, q, args...)
}
