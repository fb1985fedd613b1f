#pragma once
// Whether a listen address keeps the server on this machine.
#include <string>

namespace imgup {

/// Whether every address `host` resolves to (getaddrinfo: literals, /etc/hosts, DNS) is a
/// loopback address: 127.0.0.0/8, ::1, or an IPv4-mapped 127.x. A name that does not resolve,
/// or has any other address, is not: "127.attacker.example" is whatever its DNS says.
bool ResolvesOnlyToLoopback(const std::string& host);

}  // namespace imgup
