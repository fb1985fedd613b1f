#pragma once
// The local HTTP transport: cpp-httplib in front of the transport-agnostic Router.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "core/ports.hpp"
#include "core/router.hpp"

namespace httplib {
class Server;
}

namespace imgup {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                                // 0 picks a free port
  std::size_t max_body_bytes = 10 * 1024 * 1024;  // larger bodies get 413 before being read
  std::size_t threads = 16;                       // worker threads (one per open connection)
  int read_timeout_s = 30;                        // per read on a connection
  int write_timeout_s = 30;
  int keep_alive_timeout_s = 5;
};

class HttpServer {
 public:
  /// `log_line` receives one JSON line per request.
  HttpServer(const Router& router, HttpServerOptions options, Clock& clock, IdGenerator& ids,
             std::function<void(const std::string&)> log_line);
  ~HttpServer();

  /// Binds the listening socket. Returns the bound port. Errors: kUnavailable.
  Result<int> Bind();
  /// Serves until Stop(); returns after in-flight requests have finished.
  void Serve();
  /// Stops accepting; in-flight requests finish. Safe from another thread.
  void Stop();

 private:
  const Router& router_;
  HttpServerOptions options_;
  Clock& clock_;
  IdGenerator& ids_;
  std::function<void(const std::string&)> log_line_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace imgup
