#pragma once
// The messages between imgup and its pixel worker processes (SandboxedImageProcessor and
// RunPixelWorker): one request (the job) and one response (the result) per job, each a frame of
// a JSON header and raw bytes over a stream socket. Plain functions, so that both ends and the
// tests share one definition.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "codecs/sniff.hpp"
#include "domain/ports/image_processor.hpp"

namespace imgup::wire {

/// A frame: a 4-byte little-endian header length, the JSON header, an 8-byte little-endian
/// payload length, the payload.
struct Frame {
  std::string header;   // JSON text
  std::string payload;  // raw bytes (the original; the variants one after the other)
};

inline constexpr std::uint32_t kMaxHeaderBytes = 1 << 20;
inline constexpr std::uint64_t kMaxPayloadBytes = std::uint64_t{4} << 30;

/// The bytes of `frame` on the wire.
std::string EncodeFrame(const Frame& frame);
/// What goes on the wire before a payload of `payload_size` bytes: a frame can then be sent as
/// this prefix followed by the payload where it lies, without a copy.
std::string EncodeFramePrefix(std::string_view header, std::uint64_t payload_size);

/// Parses a frame from the front of `buffer`: the frame and the bytes it used, 0 while the buffer
/// holds less than a whole frame. Errors: kInternal "bad_frame" for lengths over the maximums.
Result<std::size_t> DecodeFrame(std::string_view buffer, Frame& out);

/// A job's header: the limits. Its payload is the original's bytes; the worker sniffs them
/// itself, so that what it decodes is described by the bytes alone.
std::string EncodeJobHeader(const ProcessingLimits& limits);
/// Errors: kInternal "bad_frame".
Result<void> DecodeJobHeader(std::string_view header, ProcessingLimits& limits);

Frame EncodeResult(const Result<ProcessedImage>& result);
/// The worker's result, or the error it reported. kInternal "bad_frame" for a malformed frame.
Result<ProcessedImage> DecodeResult(Frame frame);

}  // namespace imgup::wire
