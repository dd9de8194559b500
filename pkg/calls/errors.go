package calls

import "errors"

var (
	// ErrCallNotFound means no call has the given id.
	ErrCallNotFound = errors.New("function call not found")

	// ErrCallExists means a call with the same id was already recorded, for
	// example a redelivered scheduler fire.
	ErrCallExists = errors.New("function call already exists")

	// ErrUnknownUser means the requesting user no longer exists.
	ErrUnknownUser = errors.New("requesting user does not exist")

	// ErrInvalidCall means a new call or an outcome has a bad field, such as
	// an unknown trigger type or a final status other than succeeded/failed.
	ErrInvalidCall = errors.New("invalid function call")
)
