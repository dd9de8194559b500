package e2e

import (
	"encoding/json"
	"net"
	"strconv"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func netListen(port int) (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
}
