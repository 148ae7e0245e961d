// The Go probe: name lookups with Go's own resolver (built with
// CGO_ENABLED=0, a static binary that never calls libc).
//
// Usage: resolve NAME...  Prints "addr: A" per address (sorted) or
// "error: not found" / "error: temporary" / "error: other".
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
)

func main() {
	r := &net.Resolver{PreferGo: true}
	for _, name := range os.Args[1:] {
		addrs, err := r.LookupHost(context.Background(), name)
		if err != nil {
			var d *net.DNSError
			switch {
			case errors.As(err, &d) && d.IsNotFound:
				fmt.Println("error: not found")
			case errors.As(err, &d) && d.IsTemporary:
				fmt.Println("error: temporary")
			default:
				fmt.Println("error: other:", err)
			}
			continue
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			fmt.Println("addr:", a)
		}
	}
}
