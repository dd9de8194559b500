package users

// CheckPassword applies the rules for a new password without storing
// anything, so callers such as `tinybase init` can refuse bad input before
// they write a single file.
func CheckPassword(password string) error { return checkPassword(password) }
