#include "transport/http/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/exchange.hpp"
#include "api/handlers.hpp"
#include "api/record_json.hpp"
#include "api/request_log.hpp"

namespace imgup {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using ErrorCodeT = boost::system::error_code;

namespace http_detail {

class Connection;

/// Everything the server shares with its connections. Outlives them: Serve() returns only when
/// the io_context ran out of work, that is when every connection is gone.
struct ServerCore {
  ServerCore(HttpHandler handler_in, HttpServerOptions options_in, Clock& clock_in,
             IdGenerator& ids_in, std::function<void(const std::string&)> log_line_in)
      : handler(std::move(handler_in)),
        options(std::move(options_in)),
        clock(clock_in),
        ids(ids_in),
        log_line(std::move(log_line_in)) {}

  const HttpHandler handler;
  const HttpServerOptions options;
  Clock& clock;
  IdGenerator& ids;
  const std::function<void(const std::string&)> log_line;

  asio::io_context ioc;
  // The acceptor, its retry timer and `accept_paused` live on this strand.
  asio::strand<asio::io_context::executor_type> accept_strand = asio::make_strand(ioc);
  tcp::acceptor acceptor{accept_strand};
  asio::steady_timer accept_retry{accept_strand};
  bool accept_paused = false;
  std::optional<asio::thread_pool> workers;  // exists while Serve() runs
  std::atomic<bool> stopping{false};

  std::mutex mutex;  // guards `connections`
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;

  void Run();
  void DoAccept();
  void OnAccept(const ErrorCodeT& ec, tcp::socket socket);
  void StopOnStrand();
  void Forget(Connection* connection);
  void LogError(std::string_view what) noexcept;
  void LogRequest(const HttpRequest& request, const HttpResponse& response,
                  SteadyClock::time_point start) noexcept;
};

namespace {

std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }

// Room kept past a request body: the JSON parser (simdjson) reads up to 64 bytes past the end, and
// with this much spare it parses the body in place instead of copying a multi-megabyte upload.
constexpr std::size_t kBodyPadding = 64;

/// A request body read into a std::string, like Beast's string_body, but appended as it arrives:
/// string_body's reader zero-fills each new stretch of the string before copying into it, one
/// more pass over every byte of an upload. Requests only: the server never writes with it.
struct RequestBody {
  using value_type = std::string;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>& /*header*/, value_type& body) : body_(body) {}

    // Runs as soon as the header is parsed, before the server has compared the declared length
    // with its limit: the room for the body is reserved after that check (OnHeader).
    void init(const boost::optional<std::uint64_t>& /*length*/, ErrorCodeT& ec) { ec = {}; }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, ErrorCodeT& ec) {
      std::size_t n = 0;
      for (const asio::const_buffer buffer : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(buffer.data()), buffer.size());
        n += buffer.size();
      }
      ec = {};
      return n;
    }

    void finish(ErrorCodeT& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

bool IsHttpError(const ErrorCodeT& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

/// "/a%20b?x=1" → path "/a b" and query [("x", "1")]. An absolute-form target keeps its path.
void SplitTarget(std::string_view target, HttpRequest& out) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && AsciiLower(target.substr(0, scheme.size())) == scheme) {
      const std::string_view rest = target.substr(scheme.size());
      const std::size_t slash = rest.find_first_of("/?");
      target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
      if (!target.empty() && target.front() == '?') {
        out.path = "/";
        out.query = ParseQueryString(target.substr(1));
        return;
      }
      break;
    }
  }
  const std::size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  // A malformed escape is kept verbatim: such a path matches no route and gets 404.
  std::optional<std::string> decoded = PercentDecode(raw_path, /*plus_is_space=*/false);
  out.path = decoded ? std::move(*decoded) : std::string(raw_path);
  if (question != std::string_view::npos) out.query = ParseQueryString(target.substr(question + 1));
}

/// What a request line and header give; the body is added once it has been read.
HttpRequest ToRequest(const bhttp::request<RequestBody>& in, const std::string& remote,
                      std::string request_id) {
  HttpRequest out;
  const std::string_view method = View(in.method_string());
  out.method.reserve(method.size());
  for (char c : method) {
    out.method.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  }
  SplitTarget(View(in.target()), out);
  for (const auto& field : in) {
    out.headers.emplace_back(AsciiLower(View(field.name_string())),
                             std::string(View(field.value())));
  }
  out.remote_addr = remote;
  out.request_id = std::move(request_id);
  return out;
}

/// The Beast message for `in`, a response FinishResponse has prepared. The transport owns
/// Content-Length, Transfer-Encoding and Connection; a response to HEAD says the length of the
/// body it does not carry.
bhttp::response<bhttp::string_body> ToBeast(const HttpResponse& in, bool head) {
  bhttp::response<bhttp::string_body> out;
  out.version(11);
  out.result(static_cast<unsigned>(in.status));
  std::string_view head_length;
  for (const auto& [name, value] : in.headers) {
    const std::string lower = AsciiLower(name);
    if (lower == "content-length") head_length = value;
    if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection") {
      continue;
    }
    out.insert(name, value);
  }
  if (HasNoBody(in.status)) return out;
  if (head) {
    std::uint64_t length = 0;
    std::from_chars(head_length.data(), head_length.data() + head_length.size(), length);
    out.content_length(length);
    return out;
  }
  out.content_length(in.body.size());
  out.body() = in.body;
  return out;
}

bool WantsClose(const HttpResponse& response) {
  return AsciiLower(response.Header("Connection")) == "close";
}

/// Why the framing of a parsed request head is unsafe to act on, or "" when it is sound.
/// RFC 9112: an HTTP/1.1 request has exactly one Host (section 3.2); a Transfer-Encoding whose
/// final coding is not chunked leaves the body's length unknown, and an HTTP/1.0 message with
/// one is faulty framing (section 6.1, 6.3). Beast ignores a Transfer-Encoding that does not end
/// in "chunked" (the body would then be read as the next request) and silently drops any coding
/// before it. Every refusal here closes the connection: what follows the head cannot be trusted.
std::string FramingProblem(const bhttp::request<RequestBody>& message) {
  const auto hosts = message.count(bhttp::field::host);
  if (hosts > 1) return "more than one Host header field";
  if (hosts == 0 && message.version() >= 11) return "an HTTP/1.1 request needs a Host header field";

  std::vector<std::string> codings;
  for (const auto& field : message) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    const std::string_view value = View(field.value());
    std::size_t start = 0;
    while (start <= value.size()) {
      std::size_t comma = value.find(',', start);
      if (comma == std::string_view::npos) comma = value.size();
      std::string_view token = value.substr(start, comma - start);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (!token.empty()) codings.push_back(AsciiLower(token));
      start = comma + 1;
    }
  }
  if (codings.empty()) {
    if (message.count(bhttp::field::transfer_encoding) > 0) return "an empty Transfer-Encoding";
    return {};
  }
  if (message.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
  if (codings.back() != "chunked") {
    return "Transfer-Encoding must end with chunked, or the body's length is unknown";
  }
  if (codings.size() > 1) {
    return "the transfer coding '" + codings.front() +
           "' is not supported: send the body with chunked alone or with Content-Length";
  }
  return {};
}

}  // namespace

/// One client connection. Every member is used on the connection's strand, except `request_`,
/// `response_` and `close_after_`, which the worker running the handler owns between Handle()
/// and Respond() (the posts between them order the accesses).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerCore& server, tcp::socket socket)
      : server_(server), options_(server.options), stream_(std::move(socket)) {
    ErrorCodeT ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }
  ~Connection() { server_.Forget(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  asio::any_io_executor executor() { return stream_.get_executor(); }

  void Start() { WaitForRequest(std::chrono::seconds(options_.header_timeout_s)); }

  /// Graceful stop: an idle connection closes now; one with a request finishes it first.
  void OnStop() {
    if (state_ == State::kIdle) Close();
  }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kLingering, kClosed };

  // --- waiting for a request -------------------------------------------------------------

  void WaitForRequest(SteadyClock::duration timeout) {
    if (state_ == State::kClosed) return;
    state_ = State::kIdle;
    if (server_.stopping.load()) return Close();
    if (buffer_.size() > 0) return BeginRequest();  // pipelined
    // An idle connection does not keep a large body's read buffer.
    if (buffer_.capacity() > kFirstRead) buffer_.shrink_to_fit();
    stream_.expires_after(timeout);
    stream_.async_read_some(
        buffer_.prepare(kFirstRead),
        beast::bind_front_handler(&Connection::OnFirstBytes, shared_from_this()));
  }

  void OnFirstBytes(const ErrorCodeT& ec, std::size_t n) {
    buffer_.commit(n);
    if (state_ == State::kClosed) return;
    if (ec) return Close();  // EOF, the idle timeout, or closed by Stop()
    BeginRequest();
  }

  // --- reading a request -----------------------------------------------------------------

  void BeginRequest() {
    state_ = State::kReading;
    start_ = SteadyClock::now();
    deadline_ = start_ + std::chrono::seconds(options_.request_timeout_s);
    head_ = false;
    body_limit_ = options_.max_body_bytes;
    close_after_ = false;
    request_ = HttpRequest{};
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        options_.header_limit_bytes, std::numeric_limits<std::uint32_t>::max())));
    // The declared length is checked by OnHeader, so that it can answer 413 itself. (An empty
    // optional here would make Beast 1.74 refuse every body.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_at(
        std::min(start_ + std::chrono::seconds(options_.header_timeout_s), deadline_));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Connection::OnHeader, shared_from_this()));
  }

  void OnHeader(const ErrorCodeT& ec, std::size_t /*bytes*/) {
    if (state_ == State::kClosed) return;
    if (ec == bhttp::error::header_limit) return Refuse(HeadersTooLarge(), 431);
    if (ec == bhttp::error::end_of_stream) return Close();
    if (ec && IsHttpError(ec)) return Refuse(InvalidRequest(ec));
    if (ec) return Close();  // timeout, reset

    const auto& message = parser_->get();
    request_ = ToRequest(message, remote_, server_.ids.NewId(server_.clock.NowMs()));
    head_ = request_.method == "HEAD";
    if (std::string problem = FramingProblem(message); !problem.empty()) {
      return Refuse(Error{ErrorCode::kInvalidArgument, "invalid_request",
                          "The request is not valid HTTP/1.1: " + problem, problem});
    }

    const boost::optional<std::uint64_t> length = parser_->content_length();
    body_limit_ = options_.max_body_bytes;
    if (!options_.large_body_path.empty() && request_.path == options_.large_body_path) {
      body_limit_ = options_.large_body_limit;
      if (options_.large_body_check) {
        // Decided on the header alone: a refused request's body is not what it may cost us.
        const Result<std::size_t> allowed = options_.large_body_check(request_);
        if (!allowed) return Refuse(allowed.error(), 0, /*drain_announced_body=*/false);
        body_limit_ = std::min(body_limit_, *allowed);
      }
    }
    if (length && *length > body_limit_) return Refuse(PayloadTooLarge(body_limit_));
    // Beast counts a chunked body down from this as it arrives: 413 once the limit is crossed.
    parser_->body_limit(body_limit_);
    if (length) parser_->get().body().reserve(static_cast<std::size_t>(*length) + kBodyPadding);
    // Beast reads no more than the buffer's free capacity at a time: at the idle 8 KB, a 273 KB
    // upload took ~35 reads and as many wake-ups. Room for the body (up to kBodyRead) lets one
    // read take whatever the socket holds.
    if (length && *length > buffer_.capacity() - buffer_.size()) {
      buffer_.reserve(buffer_.size() +
                      static_cast<std::size_t>(std::min<std::uint64_t>(*length, kBodyRead)));
    }

    if (!parser_->is_done() && message.version() >= 11) {
      if (AsciiLower(View(message[bhttp::field::expect])) == "100-continue") {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(std::chrono::seconds(options_.write_timeout_s));
        asio::async_write(
            stream_, asio::buffer(kContinue.data(), kContinue.size()),
            beast::bind_front_handler(&Connection::OnContinueSent, shared_from_this()));
        return;
      }
    }
    ReadBody();
  }

  void OnContinueSent(const ErrorCodeT& ec, std::size_t /*bytes*/) {
    if (state_ == State::kClosed) return;
    if (ec) return Close();
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return Handle();
    stream_.expires_at(
        std::min(SteadyClock::now() + std::chrono::seconds(options_.read_timeout_s), deadline_));
    bhttp::async_read_some(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&Connection::OnBody, shared_from_this()));
  }

  void OnBody(const ErrorCodeT& ec, std::size_t /*bytes*/) {
    if (state_ == State::kClosed) return;
    if (ec == bhttp::error::body_limit) return Refuse(PayloadTooLarge(body_limit_));
    if (ec && IsHttpError(ec)) return Refuse(InvalidRequest(ec));
    if (ec) return Close();
    ReadBody();
  }

  // --- answering -------------------------------------------------------------------------

  /// Runs the handler (the router) on a worker: handlers may block, connections must not wait for
  /// them.
  void Handle() {
    state_ = State::kHandling;
    stream_.expires_never();
    request_.body = std::move(parser_->get().body());
    keep_alive_ = parser_->keep_alive();
    http10_ = parser_->get().version() < 11;
    parser_.reset();
    // The work guard keeps Serve() running until the answer is on its way back to the strand.
    asio::post(*server_.workers,
               [self = shared_from_this(), work = asio::make_work_guard(server_.ioc)]() mutable {
                 self->RunHandler();
                 asio::post(self->executor(), [self] { self->Respond(); });
                 // Dropped while `work` still holds the io_context: should this be the last
                 // reference, ~Connection must find the loop running.
                 self.reset();
               });
  }

  void RunHandler() noexcept {
    HttpResponse response = server_.handler(request_);
    try {
      close_after_ = WantsClose(response);
      response_.emplace(ToBeast(response, head_));
    } catch (const std::exception& e) {  // e.g. out of memory while copying the response
      response = InternalErrorResponse(request_, e.what());
      FinishResponse(request_, response);
      close_after_ = true;
      try {
        response_.emplace(ToBeast(response, head_));
      } catch (...) {
        response_.reset();
      }
    }
    server_.LogRequest(request_, response, start_);
  }

  void Respond() {
    if (state_ == State::kClosed) return;
    if (!response_) return Close();
    const bool keep = keep_alive_ && !close_after_ && !server_.stopping.load();
    close_after_ = !keep;
    response_->keep_alive(keep);
    if (keep && http10_) response_->set(bhttp::field::connection, "keep-alive");
    linger_ = false;
    Write();
  }

  /// An answer given before the request was read completely (413, 400, 431): the connection
  /// closes after it, and the rest of the request is drained so that the client sees it (with
  /// `drain_announced_body` false, no more than linger_max_bytes of it).
  void Refuse(const Error& error, int status = 0, bool drain_announced_body = true) {
    if (request_.request_id.empty()) {
      // The header did not parse: log what there is of the request line.
      if (parser_) {
        const auto& message = parser_->get();
        request_.method = std::string(View(message.method_string()));
        if (!message.target().empty()) SplitTarget(View(message.target()), request_);
      }
      request_.remote_addr = remote_;
      request_.request_id = server_.ids.NewId(server_.clock.NowMs());
    }
    // The client may send all it announced before it reads the answer (Python's http.client
    // does, without Expect: 100-continue): drain that much, or closing with its bytes unread
    // resets the connection under the client's send, and it never sees the answer.
    linger_budget_ = options_.linger_max_bytes;
    // Only a complete header says how long the body is (Beast asserts so).
    if (drain_announced_body && parser_ && parser_->is_header_done()) {
      if (const auto remaining = parser_->content_length_remaining()) {
        linger_budget_ = std::max<std::uint64_t>(linger_budget_, *remaining);
      }
    }
    HttpResponse response = ProblemResponse(error, request_.request_id);
    if (status != 0) {
      // No ErrorCode maps to this status (431): adjust the response and the problem.
      response.status = status;
      nlohmann::json problem = nlohmann::json::parse(response.body, nullptr, false);
      if (problem.is_object()) {
        problem["status"] = status;
        if (status == 431) problem["title"] = "Request Header Fields Too Large";
        response.body = problem.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    }
    FinishResponse(request_, response);
    response.route = request_.path;
    server_.LogRequest(request_, response, start_);
    parser_.reset();
    response_.emplace(ToBeast(response, /*head=*/false));
    response_->keep_alive(false);
    close_after_ = true;
    linger_ = true;
    Write();
  }

  void Write() {
    state_ = State::kWriting;
    serializer_.emplace(*response_);
    WriteSome();
  }

  void WriteSome() {
    stream_.expires_after(std::chrono::seconds(options_.write_timeout_s));
    bhttp::async_write_some(stream_, *serializer_,
                            beast::bind_front_handler(&Connection::OnWritten, shared_from_this()));
  }

  void OnWritten(const ErrorCodeT& ec, std::size_t /*bytes*/) {
    if (state_ == State::kClosed) return;
    if (ec) return Close();
    if (!serializer_->is_done()) return WriteSome();
    serializer_.reset();
    response_.reset();
    request_ = HttpRequest{};
    if (close_after_) {
      // Unread bytes (a body refused early, pipelined requests) would turn close() into a
      // reset that can destroy the answer on its way: drain them first.
      if (linger_ || buffer_.size() > 0) return Linger();
      return ShutdownAndClose();
    }
    WaitForRequest(std::chrono::seconds(options_.keep_alive_timeout_s));
  }

  // --- closing ---------------------------------------------------------------------------

  void Linger() {
    state_ = State::kLingering;
    buffer_.consume(buffer_.size());
    ErrorCodeT ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    linger_bytes_ = 0;
    drain_.resize(kDrainChunk);
    DrainSome();
  }

  // Reads and drops while the client keeps sending, up to linger_budget_ bytes, within the
  // request's own time limit; a client silent for linger_timeout_ms is done.
  void DrainSome() {
    stream_.expires_at(std::min(
        SteadyClock::now() + std::chrono::milliseconds(options_.linger_timeout_ms), deadline_));
    stream_.async_read_some(asio::buffer(drain_),
                            beast::bind_front_handler(&Connection::OnDrained, shared_from_this()));
  }

  void OnDrained(const ErrorCodeT& ec, std::size_t n) {
    if (state_ == State::kClosed) return;
    linger_bytes_ += n;
    if (ec || linger_bytes_ >= linger_budget_) return Close();
    DrainSome();
  }

  void ShutdownAndClose() {
    ErrorCodeT ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    Close();
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    stream_.close();
  }

  // --- early answers ---------------------------------------------------------------------

  Error HeadersTooLarge() const {
    return Error{ErrorCode::kInvalidArgument,
                 "headers_too_large",
                 "The request line and header fields are larger than the limit of " +
                     std::to_string(options_.header_limit_bytes) + " bytes",
                 {}};
  }

  static Error InvalidRequest(const ErrorCodeT& ec) {
    return Error{ErrorCode::kInvalidArgument, "invalid_request",
                 "The request is not valid HTTP/1.1: " + ec.message(), ec.message()};
  }

  static constexpr std::size_t kFirstRead = 8 * 1024;
  static constexpr std::size_t kBodyRead = 1024 * 1024;
  static constexpr std::size_t kDrainChunk = 64 * 1024;

  ServerCore& server_;
  const HttpServerOptions& options_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
  State state_ = State::kIdle;

  std::optional<bhttp::request_parser<RequestBody>> parser_;
  HttpRequest request_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  std::optional<bhttp::response_serializer<bhttp::string_body>> serializer_;
  SteadyClock::time_point start_;
  SteadyClock::time_point deadline_;
  bool head_ = false;
  std::size_t body_limit_ = 0;  // of the request being read (max_body_bytes, or large_body_limit)
  bool http10_ = false;
  bool keep_alive_ = false;
  bool close_after_ = false;
  bool linger_ = false;

  std::uint64_t linger_budget_ = 0;
  std::uint64_t linger_bytes_ = 0;
  std::vector<char> drain_;
};

void ServerCore::Run() {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      LogError(std::string("http: ") + e.what());
    } catch (...) {
      LogError("http: unknown exception");
    }
  }
}

void ServerCore::DoAccept() {
  if (stopping.load() || !acceptor.is_open()) return;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (connections.size() >= options.max_connections) {
      accept_paused = true;  // Forget() resumes
      return;
    }
  }
  acceptor.async_accept(asio::make_strand(ioc), [this](const ErrorCodeT& ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void ServerCore::OnAccept(const ErrorCodeT& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || stopping.load()) {
    ErrorCodeT ignored;
    socket.close(ignored);
    return;
  }
  if (ec) {
    // Out of descriptors and the like: try again shortly rather than spin.
    LogError("http: accept failed: " + ec.message());
    accept_retry.expires_after(std::chrono::milliseconds(100));
    accept_retry.async_wait([this](const ErrorCodeT& wait_ec) {
      if (!wait_ec) DoAccept();
    });
    return;
  }
  auto connection = std::make_shared<Connection>(*this, std::move(socket));
  {
    std::lock_guard<std::mutex> lock(mutex);
    connections.emplace(connection.get(), connection);
  }
  asio::dispatch(connection->executor(), [connection] { connection->Start(); });
  DoAccept();
}

void ServerCore::StopOnStrand() {
  ErrorCodeT ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& [raw, weak] : connections) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  for (auto& connection : open) {
    asio::post(connection->executor(), [connection] { connection->OnStop(); });
  }
}

void ServerCore::Forget(Connection* connection) {
  bool resume = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    connections.erase(connection);
    resume = connections.size() < options.max_connections;
  }
  if (resume && !stopping.load()) {
    asio::post(accept_strand, [this] {
      if (accept_paused) {
        accept_paused = false;
        DoAccept();
      }
    });
  }
}

void ServerCore::LogError(std::string_view what) noexcept {
  try {
    nlohmann::json line = {
        {"ts", FormatRfc3339(clock.NowMs())}, {"level", "error"}, {"msg", std::string(what)}};
    log_line(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (...) {
  }
}

void ServerCore::LogRequest(const HttpRequest& request, const HttpResponse& response,
                            SteadyClock::time_point start) noexcept {
  try {
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
    log_line(FormatRequestLog(clock.NowMs(), request, response, ms));
  } catch (...) {
  }
}

}  // namespace http_detail

namespace {

/// The router as the server's handler, with the body limit each request was read under
/// (Connection::OnHeader). Made from `options` before they are moved into the server: a lambda
/// built in the same argument list as std::move(options) could copy a moved-from path.
HttpHandler RouterHandler(const Router& router, const HttpServerOptions& options) {
  return [&router, max_body_bytes = options.max_body_bytes, large_path = options.large_body_path,
          large_limit = options.large_body_limit](const HttpRequest& request) {
    const bool large = !large_path.empty() && request.path == large_path;
    return Answer(router, request, large ? large_limit : max_body_bytes);
  };
}

}  // namespace

HttpServer::HttpServer(const Router& router, HttpServerOptions options, Clock& clock,
                       IdGenerator& ids, std::function<void(const std::string&)> log_line) {
  HttpHandler handler = RouterHandler(router, options);
  core_ = std::make_unique<http_detail::ServerCore>(std::move(handler), std::move(options), clock,
                                                    ids, std::move(log_line));
}

HttpServer::HttpServer(HttpHandler handler, HttpServerOptions options, Clock& clock,
                       IdGenerator& ids, std::function<void(const std::string&)> log_line)
    : core_(std::make_unique<http_detail::ServerCore>(std::move(handler), std::move(options), clock,
                                                      ids, std::move(log_line))) {}

HttpServer::~HttpServer() = default;

Result<int> HttpServer::Bind() {
  http_detail::ServerCore& core = *core_;
  const HttpServerOptions& options = core.options;
  const std::string where = options.host + ":" + std::to_string(options.port);
  if (options.port < 0 || options.port > 65535) {
    return Fail(ErrorCode::kUnavailable, "bind_failed", "cannot listen on " + where,
                "port out of range");
  }
  const auto port = static_cast<unsigned short>(options.port);

  std::vector<tcp::endpoint> endpoints;
  ErrorCodeT ec;
  const asio::ip::address literal = asio::ip::make_address(options.host, ec);
  if (!ec) {
    endpoints.emplace_back(literal, port);
  } else {
    tcp::resolver resolver(core.ioc);
    auto results = resolver.resolve(options.host, std::to_string(port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec) {
      return Fail(ErrorCode::kUnavailable, "bind_failed", "cannot listen on " + where,
                  ec.message());
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    // "localhost": prefer 127.0.0.1, as the other transports and the docs do.
    std::stable_partition(endpoints.begin(), endpoints.end(),
                          [](const tcp::endpoint& e) { return e.address().is_v4(); });
  }

  std::string failure = "no address";
  bool in_use = false;
  for (const tcp::endpoint& endpoint : endpoints) {
    tcp::acceptor& acceptor = core.acceptor;
    ErrorCodeT ignored;
    if (acceptor.is_open()) acceptor.close(ignored);
    if (acceptor.open(endpoint.protocol(), ec) ||
        acceptor.set_option(asio::socket_base::reuse_address(true), ec) ||
        acceptor.bind(endpoint, ec) ||
        acceptor.listen(asio::socket_base::max_listen_connections, ec)) {
      failure = ec.message();
      in_use = in_use || ec == boost::system::errc::address_in_use;
      acceptor.close(ignored);
      continue;
    }
    const tcp::endpoint bound = acceptor.local_endpoint(ec);
    if (ec) {
      failure = ec.message();
      acceptor.close(ignored);
      continue;
    }
    return static_cast<int>(bound.port());
  }
  // The slug tells a port held by another process from an address this machine does not have.
  return Fail(ErrorCode::kUnavailable, in_use ? "address_in_use" : "bind_failed",
              "cannot listen on " + where, failure);
}

void HttpServer::Serve() {
  http_detail::ServerCore& core = *core_;
  if (core.stopping.load() || !core.acceptor.is_open()) return;
  // Handlers mostly compute (JSON, base64, SHA-256) and only briefly wait on SQLite and the
  // page cache, so one per CPU: with 16 on 2 CPUs, 8 uploads in flight were time-sliced against
  // each other, each evicting the others' half-megabyte of buffers from the cache (POST /upload
  // at 8 connections: 1 430 vs 1 700 req/s, p99 17 vs 12 ms).
  std::size_t threads = core.options.threads;
  if (threads == 0) threads = std::thread::hardware_concurrency();
  core.workers.emplace(std::max<std::size_t>(1, threads));
  asio::post(core.accept_strand, [&core] { core.DoAccept(); });
  std::vector<std::thread> io;
  for (std::size_t i = 1; i < core.options.io_threads; ++i)
    io.emplace_back([&core] { core.Run(); });
  core.Run();  // returns when nothing is left: acceptor closed, every connection gone
  for (std::thread& thread : io) thread.join();
  core.workers->join();
  core.workers.reset();
}

void HttpServer::Stop() {
  http_detail::ServerCore* core = core_.get();
  core->stopping.store(true);
  asio::post(core->accept_strand, [core] { core->StopOnStrand(); });
}

}  // namespace imgup
