package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Binary builds ./cmd/ferry of the enclosing module once per process and
// returns the path of the executable.
func Binary() (string, error) {
	build.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			build.err = fmt.Errorf("go env GOMOD: %v", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			build.err = errors.New("cluster: not inside a Go module")
			return
		}
		if build.dir, build.err = os.MkdirTemp("", "ferry-cluster-bin-"); build.err != nil {
			return
		}
		bin := filepath.Join(build.dir, "ferry")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/ferry")
		cmd.Dir = filepath.Dir(gomod)
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/ferry: %v\n%s", err, out)
			return
		}
		build.bin = bin
	})
	return build.bin, build.err
}

// RemoveBinary deletes the binary Binary built, if any. Call it from
// TestMain after m.Run.
func RemoveBinary() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}
