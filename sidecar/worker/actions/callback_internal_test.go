package actions

import (
	"net/netip"
	"testing"
)

// Every address that is not the public internet is refused as a callback
// destination, whichever way it is written; public addresses are not.
func TestNonPublicReason(t *testing.T) {
	t.Parallel()
	cases := []struct{ ip, want string }{
		{"127.0.0.1", "loopback"},
		{"127.8.9.10", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"64:ff9b::7f00:1", "loopback"}, // NAT64 of 127.0.0.1
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"fd00::1", "private"},
		{"fc00::1", "private"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff05::2", "multicast"},
		{"0.1.2.3", `"this network" (RFC 1122)`},
		{"100.100.100.200", "shared address space (RFC 6598)"},
		{"255.255.255.255", "reserved or broadcast (RFC 1112, RFC 919)"},
		{"fec0::1", "site-local (RFC 3879)"},
		{"93.184.215.14", ""},
		{"172.32.0.1", ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", ""},
		{"64:ff9b::5db8:d70e", ""}, // NAT64 of a public address
	}
	for _, c := range cases {
		if got := nonPublicReason(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("%s: %q, want %q", c.ip, got, c.want)
		}
	}
}
