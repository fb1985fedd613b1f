#include "transport/http/loopback.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace imgup {

namespace {

bool IsLoopbackAddress(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, address, sizeof v4);
    return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, address, sizeof v6);
    const unsigned char* b = v6.sin6_addr.s6_addr;
    static constexpr unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, kLoopback, 16) == 0 ||
           (std::memcmp(b, kMappedPrefix, 12) == 0 && b[12] == 127);
  }
  return false;
}

}  // namespace

bool ResolvesOnlyToLoopback(const std::string& host) {
  if (host.empty()) return false;  // getaddrinfo would take it as "any address"
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &results) != 0) return false;
  bool any = false;
  bool all_loopback = true;
  for (const addrinfo* entry = results; entry != nullptr; entry = entry->ai_next) {
    any = true;
    all_loopback = all_loopback && entry->ai_addr != nullptr && IsLoopbackAddress(entry->ai_addr);
  }
  freeaddrinfo(results);
  return any && all_loopback;
}

}  // namespace imgup
