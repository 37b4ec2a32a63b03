package credstore

import (
	"fmt"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// Open builds the store the connect config names: Redis when connect.redis.addr
// is set (several replicas), else the embedded file under connect.state_dir.
func Open(c config.Connect) (*Store, error) {
	keys, err := LoadKeyFile(c.EncryptionKeyFile)
	if err != nil {
		return nil, err
	}
	if c.Redis.Addr == "" {
		b, err := OpenBolt(c.StateDir)
		if err != nil {
			return nil, err
		}
		return New(b, keys), nil
	}
	opts := &redis.Options{Addr: c.Redis.Addr, Username: c.Redis.Username, DB: c.Redis.DB}
	if c.Redis.PasswordFile != "" {
		pw, err := os.ReadFile(c.Redis.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("credstore: connect.redis.password_file: %w", err)
		}
		opts.Password = strings.TrimSpace(string(pw))
	}
	return New(NewRedis(redis.NewClient(opts), c.Redis.KeyPrefix), keys), nil
}
