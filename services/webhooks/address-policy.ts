import ipaddr from 'ipaddr.js';

/**
 * Which resolved addresses a webhook may connect to. Only public unicast addresses: private (RFC 1918), loopback,
 * link-local (169.254/16 holds the cloud metadata endpoint), unique-local (fc00::/7), carrier-grade NAT,
 * unspecified, multicast, broadcast and reserved ranges are refused, also when written as IPv4-mapped IPv6.
 * `allowLoopback` (the local stack only) lets loopback through; the rest stays refused.
 */
export interface AddressPolicy {
  allowLoopback: boolean;
}

/** AWS's IPv6 metadata endpoint (fd00:ec2::254) is unique-local and refused as such; named here for the reason. */
const METADATA_V6 = ipaddr.parse('fd00:ec2::254');

/** Why an address is refused, or undefined when it may be connected to. */
export function refusedAddress(address: string, policy: AddressPolicy): string | undefined {
  if (!ipaddr.isValid(address)) return `${JSON.stringify(address)} is not an IP address`;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  if (ip.kind() === 'ipv6' && ip.toNormalizedString() === METADATA_V6.toNormalizedString()) return `${address} is the instance metadata endpoint`;
  const range = ip.range();
  if (range === 'unicast') return undefined;
  if (range === 'loopback' && policy.allowLoopback) return undefined;
  if (range === 'linkLocal') return `${address} is link-local (the instance metadata endpoint lives there)`;
  return `${address} is a ${range} address`;
}
