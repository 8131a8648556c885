package throttle_test

import (
	"fmt"
	"time"

	"github.com/ucgrid/ucgrid/internal/throttle"
)

// Three failures in a row, then the key waits a minute.
func Example() {
	l, err := throttle.New(throttle.Config{Burst: 3, Every: 20 * time.Second, Lockout: time.Minute, MaxKeys: 1000})
	if err != nil {
		panic(err)
	}
	now := time.Unix(0, 0)
	for range 3 {
		l.Fail("10.0.0.7", now)
	}
	fmt.Println(l.Wait("10.0.0.7", now), l.Wait("10.0.0.8", now))
	// Output: 1m0s 0s
}
