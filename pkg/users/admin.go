package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// Page is one page of accounts.
type Page struct {
	Users  []User
	Total  int
	Limit  int
	Offset int
}

// List returns accounts oldest first.
func (s *Service) List(ctx context.Context, limit, offset int) (Page, error) {
	p := Page{Users: []User{}, Limit: limit, Offset: offset}
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&p.Total); err != nil {
		return p, fmt.Errorf("count users: %w", err)
	}
	rows, err := s.db.R.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users ORDER BY created_at, id LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return p, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return p, fmt.Errorf("list users: %w", err)
		}
		p.Users = append(p.Users, u)
	}
	return p, rows.Err()
}

// Patch is a change to an account; nil fields stay as they are.
type Patch struct {
	Email    *string
	Password *string
	IsAdmin  *bool
}

// Update applies p to the account id. A new email is normalised and must
// be free (ErrEmailTaken); a new password follows the rules of Create and
// revokes every token the user holds; taking the admin role from the last
// admin is ErrLastAdmin. The last-admin check runs inside the write
// transaction, and writes are serialised, so two concurrent demotions
// cannot both pass it.
func (s *Service) Update(ctx context.Context, id string, p Patch) (User, error) {
	var email, hash string
	if p.Email != nil {
		e, err := NormalizeEmail(*p.Email)
		if err != nil {
			return User{}, err
		}
		email = e
	}
	if p.Password != nil {
		if err := checkPassword(*p.Password); err != nil {
			return User{}, err
		}
		h, err := s.h.Hash(ctx, *p.Password)
		if err != nil {
			return User{}, err
		}
		hash = h
	}
	var u User
	var cut time.Time
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		if p.IsAdmin != nil && cur.IsAdmin && !*p.IsAdmin {
			if err := lastAdminGuard(ctx, tx); err != nil {
				return err
			}
		}
		u = cur
		if p.Email != nil {
			u.Email = email
		}
		if p.IsAdmin != nil {
			u.IsAdmin = *p.IsAdmin
		}
		u.UpdatedAt = store.Now()
		q := `UPDATE users SET email = ?, is_admin = ?, updated_at = ?`
		args := []any{u.Email, u.IsAdmin, u.UpdatedAt}
		if p.Password != nil {
			q += `, password_hash = ?`
			args = append(args, hash)
		}
		_, err = tx.ExecContext(ctx, q+` WHERE id = ?`, append(args, id)...)
		if isUnique(err) {
			return ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if p.Password != nil {
			if _, err := s.endSessions(ctx, tx, id, "password changed"); err != nil {
				return err
			}
			cut = s.now()
			return s.writeCutoff(ctx, tx, id, cut, "password changed")
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	s.setAdmin(u.ID, u.IsAdmin)
	s.cache.put(u)
	if !cut.IsZero() {
		s.recordCutoff(id, cut)
	}
	return u, nil
}

// lastAdminGuard returns ErrLastAdmin when at most one admin exists.
func lastAdminGuard(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE is_admin = 1`).Scan(&n); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// Delete removes the account id. The last admin cannot be deleted
// (ErrLastAdmin). What the user owned follows the schema's rules: records
// and function calls stay, without owner (ON DELETE SET NULL); sessions,
// reset tokens and application tokens go with the user (ON DELETE
// CASCADE). A table that references users without such a rule makes the
// delete fail with ErrUserInUse rather than an internal error. Every token
// the user held is refused from then on.
func (s *Service) Delete(ctx context.Context, id string) error {
	err := s.revokeUser(ctx, id, "user deleted", func(tx *sql.Tx) error {
		var admin bool
		err := tx.QueryRowContext(ctx, `SELECT is_admin FROM users WHERE id = ?`, id).Scan(&admin)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		if admin {
			if err := lastAdminGuard(ctx, tx); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		if store.ForeignKeyViolation(err) {
			return ErrUserInUse
		}
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.setAdmin(id, false)
	s.cache.drop(id)
	return nil
}
