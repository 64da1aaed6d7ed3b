//! ICMP echo packets, shared by fence-watchdog's ping check and heartbeat's
//! ping nodes: building a request (RFC 792 / RFC 4443) and recognising a
//! reply in what a raw or datagram ICMP socket hands over.

use std::net::Ipv4Addr;

/// The internet checksum of RFC 1071.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request (ICMPv6 when `v6`) with `payload`. IPv4 requests carry
/// their checksum; ICMPv6 checksums cover a pseudo-header, so the kernel
/// fills them in.
pub fn echo_request(v6: bool, identifier: u16, sequence: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend_from_slice(&identifier.to_be_bytes());
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(payload);
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The ICMP message inside a packet read from a raw IPv4 socket (which
/// hands over the IP header too), and the packet's source address.
pub fn split_raw_ipv4(packet: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    let header_len = usize::from(packet.first()? & 0x0f) * 4;
    let src = packet.get(12..16)?;
    let icmp = packet.get(header_len..)?;
    Some((Ipv4Addr::new(src[0], src[1], src[2], src[3]), icmp))
}

/// The identifier and sequence number of `icmp` if it is an echo reply
/// (ICMPv6 when `v6`).
pub fn echo_reply(icmp: &[u8], v6: bool) -> Option<(u16, u16)> {
    if icmp.len() < 8 || icmp[0] != if v6 { 129 } else { 0 } {
        return None;
    }
    Some((u16::from_be_bytes([icmp[4], icmp[5]]), u16::from_be_bytes([icmp[6], icmp[7]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_rfc_1071() {
        // RFC 1071's worked example: 0001 f203 f4f5 f6f7 sums to ddf2 (one's complement: 220d).
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
        let request = echo_request(false, 0x1234, 7, b"payload");
        assert_eq!(checksum(&request), 0, "a packet with its checksum sums to zero");
        assert_eq!(request[0], 8);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(&echo_request(true, 1, 2, b"")[..4], &[128, 0, 0, 0], "ICMPv6: the kernel sums");
    }

    #[test]
    fn replies_are_recognised_with_their_identifier_and_sequence() {
        let mut ip = vec![0x45u8, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 254, 198, 18, 0, 1];
        let mut icmp = echo_request(false, 0x1234, 9, b"x");
        icmp[0] = 0;
        ip.extend_from_slice(&icmp);
        let (src, body) = split_raw_ipv4(&ip).unwrap();
        assert_eq!(src, Ipv4Addr::new(198, 18, 0, 254));
        assert_eq!(echo_reply(body, false), Some((0x1234, 9)));
        assert_eq!(echo_reply(body, true), None, "type 0 is no ICMPv6 echo reply");
        let request = echo_request(false, 0x1234, 9, b"x");
        assert_eq!(echo_reply(&request, false), None, "a request is no reply");
        assert_eq!(split_raw_ipv4(&[0x45, 0]), None);
        assert_eq!(echo_reply(&[0, 0, 0], false), None);
    }
}
