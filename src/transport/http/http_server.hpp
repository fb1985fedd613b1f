#pragma once
// The local HTTP transport: an asynchronous HTTP/1.1 server (Boost.Beast on Boost.Asio) in front
// of the transport-agnostic Router.
//
// Connections are served by a few I/O threads and never hold a thread while they wait for the
// client; handlers (which may block on SQLite or files) run on a separate pool of `threads`
// workers. Every limit below is enforced by the transport before the Router sees the request.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "api/router.hpp"
#include "base/error.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/id_generator.hpp"

namespace imgup {

namespace http_detail {
struct ServerCore;
}

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal, or a name such as "localhost"
  int port = 8080;                 // 0 picks a free port
  std::size_t max_body_bytes = 10 * 1024 * 1024;  // larger bodies get 413 before being read
  // One path whose bodies may be larger (the form route of the local presigned uploads, whose
  // bytes are the point of it), with its own limit; "" for none.
  std::string large_body_path;
  std::size_t large_body_limit = 0;
  // Asked once the header of a request to large_body_path is read, before any of its body: the
  // most this request's body may hold (at most large_body_limit), or the error to answer at once.
  // After such a refusal the connection closes with the body unread: no more of it than
  // linger_max_bytes is drained, whatever its Content-Length says. None: large_body_limit.
  std::function<Result<std::size_t>(const HttpRequest& head)> large_body_check;
  std::size_t threads = 0;             // workers running handlers (idle connections use none);
                                       // 0: one per CPU
  std::size_t io_threads = 1;          // threads doing network I/O and HTTP parsing
  std::size_t max_connections = 1024;  // further clients wait in the listen backlog
  std::size_t header_limit_bytes = 16 * 1024;  // request line + header fields; more gets 431
  int header_timeout_s = 10;     // first byte of a request to the end of its header; also how
                                 // long a new connection may stay silent
  int request_timeout_s = 60;    // total time to read one request (header and body)
  int read_timeout_s = 30;       // longest wait for the next bytes of a body
  int write_timeout_s = 30;      // longest wait for the client to take more of a response
  int keep_alive_timeout_s = 5;  // an idle keep-alive connection is closed after this
  // After an answer given before the request was read (413, 400, 431), the rest of what the
  // client sends is read and dropped, so that the client receives the answer rather than a
  // connection reset: until the client is silent for linger_timeout_ms, the request's time limit
  // passes, or it has sent its announced Content-Length (at least linger_max_bytes).
  int linger_timeout_ms = 2000;
  std::size_t linger_max_bytes = 4 * 1024 * 1024;
};

/// Answers one complete request on a worker thread (it may block). Never throws.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  /// `log_line` receives one JSON line per request (and a JSON line per transport error).
  /// Requests go through `router` (api/exchange's Answer, with `options.max_body_bytes`).
  HttpServer(const Router& router, HttpServerOptions options, Clock& clock, IdGenerator& ids,
             std::function<void(const std::string&)> log_line);
  /// The same server in front of any `handler` (`imgup gateway` forwards every request to a
  /// Lambda function); the transport's own limits and refusals stay the same.
  HttpServer(HttpHandler handler, HttpServerOptions options, Clock& clock, IdGenerator& ids,
             std::function<void(const std::string&)> log_line);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds the listening socket. Returns the bound port. Errors: kUnavailable, slug
  /// "address_in_use" when another socket holds the port, else "bind_failed"; the OS's reason in
  /// the detail.
  Result<int> Bind();
  /// Serves until Stop(); returns after in-flight requests have finished and their responses
  /// have been written. Returns at once when Stop() was called before.
  void Serve();
  /// Stops accepting and closes idle connections at once; requests being read or handled
  /// finish, then their connections close. Safe from any thread, at any time (also before
  /// Serve(), which then returns promptly).
  void Stop();

 private:
  std::unique_ptr<http_detail::ServerCore> core_;
};

}  // namespace imgup
