//! CoAP multicast addresses (RFC 7252 §12.8) and the rules the endpoint
//! applies to group communication (§8).
//!
//! A client sends a NON request to a group with
//! [`Endpoint::request_multicast`](crate::Endpoint::request_multicast) and
//! gets one [`Event::Response`](crate::Event::Response) per server. A server
//! feeds datagrams that arrived on a group address to
//! [`Endpoint::handle_multicast_datagram`](crate::Endpoint::handle_multicast_datagram):
//! it answers after a random leisure up to `Config::default_leisure`, never
//! with RST, and drops error responses.

use std::net::{Ipv4Addr, Ipv6Addr};

/// "All CoAP Nodes", IPv4: 224.0.1.187.
pub const ALL_COAP_NODES_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 1, 187);

/// "All CoAP Nodes", IPv6 link-local scope: ff02::fd.
pub const ALL_COAP_NODES_V6_LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfd);

/// "All CoAP Nodes", IPv6 site-local scope: ff05::fd.
pub const ALL_COAP_NODES_V6_SITE_LOCAL: Ipv6Addr = Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 0, 0xfd);

/// "All CoAP Nodes" in IPv6 scope `scope` (`ff0X::fd`; 2 link, 5 site).
pub const fn all_coap_nodes_v6(scope: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xff00 | (scope as u16 & 0xf), 0, 0, 0, 0, 0, 0, 0xfd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_addresses_follow_ff0x_fd() {
        assert_eq!(all_coap_nodes_v6(2), ALL_COAP_NODES_V6_LINK_LOCAL);
        assert_eq!(all_coap_nodes_v6(5), ALL_COAP_NODES_V6_SITE_LOCAL);
        assert!(ALL_COAP_NODES_V4.is_multicast());
    }
}
