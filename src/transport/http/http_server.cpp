#include "transport/http/http_server.hpp"

#include <chrono>

#include <httplib.h>

#include "core/handlers.hpp"
#include "core/request_log.hpp"

namespace imgup {

namespace {

HttpRequest ToRequest(const httplib::Request& in, std::string request_id) {
  HttpRequest out;
  out.method = in.method;
  out.path = in.path;
  for (const auto& [key, value] : in.params) out.query.emplace_back(key, value);
  for (const auto& [key, value] : in.headers) out.headers.emplace_back(AsciiLower(key), value);
  out.remote_addr = in.remote_addr;
  out.request_id = std::move(request_id);
  return out;
}

void WriteResponse(const HttpResponse& in, httplib::Response& out) {
  out.status = in.status;
  std::string content_type;
  for (const auto& [key, value] : in.headers) {
    if (AsciiLower(key) == "content-type") {
      content_type = value;
    } else {
      out.set_header(key, value);
    }
  }
  if (in.status != 204 && in.status != 304) {
    out.set_content(in.body, content_type.empty() ? "application/octet-stream" : content_type);
  }
}

}  // namespace

HttpServer::HttpServer(const Router& router, HttpServerOptions options, Clock& clock,
                       IdGenerator& ids, std::function<void(const std::string&)> log_line)
    : router_(router),
      options_(std::move(options)),
      clock_(clock),
      ids_(ids),
      log_line_(std::move(log_line)),
      server_(std::make_unique<httplib::Server>()) {
  httplib::Server& server = *server_;
  const std::size_t threads = options_.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_read_timeout(options_.read_timeout_s, 0);
  server.set_write_timeout(options_.write_timeout_s, 0);
  server.set_keep_alive_timeout(options_.keep_alive_timeout_s);
  server.set_payload_max_length(options_.max_body_bytes);

  // Answers one request through the router and logs it.
  auto answer = [this](HttpRequest& request, httplib::Response& res,
                       std::chrono::steady_clock::time_point start) {
    HttpResponse response = router_.Dispatch(request);
    response.SetHeader("X-Request-Id", request.request_id);
    WriteResponse(response, res);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
    log_line_(FormatRequestLog(clock_.NowMs(), request, response, ms));
  };

  // A 413 for a body that will not be read; the connection is closed after it.
  auto too_large = [this](HttpRequest& request, httplib::Response& res,
                          std::chrono::steady_clock::time_point start) {
    HttpResponse response = ProblemResponse(PayloadTooLarge(options_.max_body_bytes),
                                            request.request_id);
    response.route = request.path;
    response.SetHeader("X-Request-Id", request.request_id);
    response.SetHeader("Connection", "close");
    WriteResponse(response, res);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
    log_line_(FormatRequestLog(clock_.NowMs(), request, response, ms));
  };

  auto declared_too_large = [this](const httplib::Request& req) {
    const std::string length = req.get_header_value("Content-Length");
    if (length.empty()) return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(length.c_str(), &end, 10);
    return errno != 0 || *end != '\0' || value > options_.max_body_bytes;
  };

  auto without_body = [this, answer](const httplib::Request& req, httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    HttpRequest request = ToRequest(req, ids_.NewId(clock_.NowMs()));
    request.body = req.body;
    answer(request, res, start);
  };

  // Requests with a body: the size is checked before a byte of the body is read.
  auto with_body = [this, answer, too_large, declared_too_large](
                       const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& content_reader) {
    const auto start = std::chrono::steady_clock::now();
    HttpRequest request = ToRequest(req, ids_.NewId(clock_.NowMs()));
    if (declared_too_large(req)) {
      too_large(request, res, start);
      return;
    }
    bool over_limit = false;
    // httplib parses multipart bodies itself when it sees a multipart Content-Type; imgup's core
    // parses them (Lambda hands it raw bodies too), so hide the type while the raw body is read.
    // The Request is a non-const object owned by httplib for this call, so this is well-defined.
    auto& headers = const_cast<httplib::Headers&>(req.headers);
    auto content_type = headers.find("Content-Type");
    std::string saved_type;
    if (content_type != headers.end()) {
      saved_type = std::move(content_type->second);
      content_type->second = "application/octet-stream";
    }
    content_reader([&](const char* data, std::size_t length) {
      if (request.body.size() + length > options_.max_body_bytes) {
        over_limit = true;
        return false;
      }
      if (request.body.empty()) {
        const std::string declared = req.get_header_value("Content-Length");
        if (!declared.empty()) request.body.reserve(std::stoull(declared));
      }
      request.body.append(data, length);
      return true;
    });
    if (content_type != headers.end()) content_type->second = std::move(saved_type);
    if (over_limit) {
      too_large(request, res, start);
      return;
    }
    answer(request, res, start);
  };

  server.set_expect_100_continue_handler(
      [this, too_large, declared_too_large](const httplib::Request& req, httplib::Response& res) {
        if (!declared_too_large(req)) return 100;
        HttpRequest request = ToRequest(req, ids_.NewId(clock_.NowMs()));
        too_large(request, res, std::chrono::steady_clock::now());
        return 413;
      });

  server.Get(".*", without_body);
  server.Options(".*", without_body);
  server.Post(".*", with_body);
  server.Put(".*", with_body);
  server.Patch(".*", with_body);
  server.Delete(".*", with_body);

  // Last resort: nothing thrown by a handler may take the server down.
  server.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        HttpRequest request = ToRequest(req, ids_.NewId(clock_.NowMs()));
        HttpResponse response = ProblemResponse(
            Error{ErrorCode::kInternal, "internal", "An internal error occurred.", what},
            request.request_id);
        response.route = request.path;
        response.SetHeader("X-Request-Id", request.request_id);
        WriteResponse(response, res);
        log_line_(FormatRequestLog(clock_.NowMs(), request, response, 0));
      });
}

HttpServer::~HttpServer() = default;

Result<int> HttpServer::Bind() {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port < 0) {
    return Fail(ErrorCode::kUnavailable, "bind_failed",
                "cannot listen on " + options_.host + ":" + std::to_string(options_.port));
  }
  return port;
}

void HttpServer::Serve() { server_->listen_after_bind(); }

void HttpServer::Stop() { server_->stop(); }

}  // namespace imgup
