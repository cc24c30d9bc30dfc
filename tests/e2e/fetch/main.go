// fetch is the end-to-end tests' in-pod client: it resolves names with Go's own resolver
// (reading the pod's /etc/resolv.conf, as most applications in a cluster do) and fetches
// URLs. Debian's static busybox cannot do either: its wget crashes on any lookup by name.
//
//	fetch URL            print the body of a GET, exit 1 on any failure
//	fetch -resolve NAME  print NAME's IPv4 addresses, one per line
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	resolve := flag.Bool("resolve", false, "print the IPv4 addresses of the name given")
	timeout := flag.Duration("timeout", 10*time.Second, "give up after this long")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fetch [-timeout D] URL | fetch -resolve NAME")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if *resolve {
		addrs, err := net.DefaultResolver.LookupIP(ctx, "ip4", flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, addr := range addrs {
			fmt.Println(addr.String())
		}
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, flag.Arg(0), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status, err)
		os.Exit(1)
	}
}
