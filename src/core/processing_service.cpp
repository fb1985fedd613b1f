#include "core/processing_service.hpp"

#include <algorithm>
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/sha256.hpp"
#include "core/upload_service.hpp"

namespace imgup {

std::string QuarantineKey(std::string_view owner, std::string_view id) {
  return "quarantine/" + std::string(owner) + "/" + std::string(id);
}

namespace {

std::string ExifToJson(const ExifInfo& exif) {
  nlohmann::json json = nlohmann::json::object();
  auto put = [&json](const char* name, const auto& value) {
    if (value) json[name] = *value;
  };
  put("make", exif.make);
  put("model", exif.model);
  put("lens", exif.lens);
  put("taken_at", exif.taken_at);
  put("exposure", exif.exposure);
  put("f_number", exif.f_number);
  put("iso", exif.iso);
  put("focal_length_mm", exif.focal_length_mm);
  put("orientation", exif.orientation);
  put("gps_latitude", exif.gps_latitude);
  put("gps_longitude", exif.gps_longitude);
  put("gps_altitude_m", exif.gps_altitude_m);
  return json.empty() ? std::string() : json.dump();
}

}  // namespace

namespace {

/// The image's own fault: bytes that do not decode, are too large, or take too long.
bool IsImagesFault(const Error& error) {
  return error.code == ErrorCode::kUnprocessable || error.code == ErrorCode::kUnsupportedMediaType;
}

/// Ends that say nothing about the job: it is made again, and the attempt does not count.
bool IsInterruption(const Error& error) {
  return error.slug == "shutting_down" || error.slug == "processing_starved";
}

}  // namespace

ProcessingOutcome ProcessingService::Run(std::string_view owner, std::string_view id) {
  auto record = records_.Get(owner, id);
  if (!record || record->status != ImageStatus::kProcessing) return {std::move(record), {}};
  auto attempts = records_.AdjustAttempts(owner, id, 1);
  if (!attempts) {
    if (attempts.error().code == ErrorCode::kNotFound)
      return {tl::unexpected(attempts.error()), {}};
    // The store is failing: try again later, without a count.
    return {tl::unexpected(attempts.error()), policy_.retry_base};
  }
  if (*attempts > policy_.max_attempts) {
    // Every earlier attempt ended without an outcome: each took the process down with it.
    return {MarkFailedKeepingOriginal(
                std::move(*record),
                Error{ErrorCode::kInternal, "processing_crashed",
                      "Processing this image stopped the server " + std::to_string(*attempts - 1) +
                          " times; the original is kept.",
                      ""}),
            {}};
  }
  const ImageRecord snapshot = *record;
  try {
    return Attempt(std::move(*record), *attempts);
  } catch (const std::exception& e) {
    return NotItsFault(snapshot, *attempts,
                       Error{ErrorCode::kInternal, "processing_failed",
                             "The image could not be processed.", e.what()});
  }
}

ProcessingOutcome ProcessingService::Attempt(ImageRecord record, std::uint32_t attempts) {
  const std::string owner = record.owner;
  const std::string id = record.id;
  auto bytes = blobs_.Get(record.key);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kNotFound) {
      return {MarkFailed(std::move(record),
                         Error{ErrorCode::kUnprocessable, "original_missing",
                               "The original's bytes are missing", bytes.error().detail}),
              {}};
    }
    return NotItsFault(std::move(record), attempts, bytes.error());
  }
  auto sniffed = SniffImage(*bytes);
  if (!sniffed) return {MarkFailed(std::move(record), sniffed.error()), {}};
  ProcessingLimits limits = policy_.limits;
  // A retry may have failed for want of memory that the jobs beside it held.
  limits.run_alone = attempts > 1;
  auto processed = processor_.Process(*bytes, *sniffed, limits);
  bytes = std::string();
  if (!processed) {
    if (IsImagesFault(processed.error()))
      return {MarkFailed(std::move(record), processed.error()), {}};
    return NotItsFault(std::move(record), attempts, processed.error());
  }

  // Variants first, record second: a crash in between leaves orphan variants for fsck, never a
  // ready record whose variants are missing.
  ImageRecord done = record;
  done.variants.clear();
  for (DerivedVariant& variant : processed->variants) {
    const std::string key = VariantKey(owner, id, variant.name);
    if (auto put = blobs_.Put(key, variant.bytes, variant.content_type); !put) {
      return NotItsFault(std::move(record), attempts, put.error());
    }
    done.variants[variant.name] = VariantInfo{
        variant.width, variant.height,          variant.bytes.size(), variant.content_type,
        key,           Sha256Hex(variant.bytes)};
  }
  done.status = ImageStatus::kReady;
  done.failure_reason.clear();
  done.width = processed->width;
  done.height = processed->height;
  done.format = processed->format;
  done.exif_json = ExifToJson(processed->exif);
  done.placeholder = processed->placeholder;
  done.dominant_color = processed->dominant_color;
  done.phash = processed->phash;
  done.info = ImageInfo{processed->bit_depth, processed->bands,       processed->has_alpha,
                        processed->animated,  processed->frame_count, processed->icc_profile};
  if (auto saved = records_.SaveDerived(done); !saved) {
    if (saved.error().code == ErrorCode::kNotFound) {
      // Deleted while it was being processed: the variants just written belong to nobody.
      for (const auto& [name, variant] : done.variants) (void)blobs_.Delete(variant.key);
      return {tl::unexpected(saved.error()), {}};
    }
    return NotItsFault(std::move(record), attempts, saved.error());
  }
  return {std::move(done), {}};
}

ProcessingOutcome ProcessingService::NotItsFault(ImageRecord record, std::uint32_t attempts,
                                                 const Error& error) {
  if (IsInterruption(error)) {
    (void)records_.AdjustAttempts(record.owner, record.id, -1);
    if (error.slug == "shutting_down") return {tl::unexpected(error), {}};
    return {tl::unexpected(error), policy_.retry_base};
  }
  if (attempts >= policy_.max_attempts) {
    Error reason = error;
    if (reason.slug == "worker_crashed") reason.slug = "processing_crashed";
    reason.message += " (" + std::to_string(attempts) + " attempts; the original is kept)";
    return {MarkFailedKeepingOriginal(std::move(record), reason), {}};
  }
  // 1x, 4x, 16x the base, each with up to 50% of jitter so that retries do not march in step.
  std::chrono::milliseconds delay = policy_.retry_base;
  for (std::uint32_t i = 1; i < attempts; ++i) delay *= 4;
  const auto jitter =
      static_cast<std::int64_t>(std::hash<std::string>{}(record.id + std::to_string(attempts)) %
                                static_cast<std::size_t>(delay.count() / 2 + 1));
  delay += std::chrono::milliseconds(jitter);
  Error retry = error;
  retry.code = ErrorCode::kUnavailable;
  retry.detail = "attempt " + std::to_string(attempts) + " of " +
                 std::to_string(policy_.max_attempts) + " failed: " + error.slug +
                 (error.detail.empty() ? "" : " (" + error.detail + ")");
  return {tl::unexpected(std::move(retry)), delay};
}

Result<ImageRecord> ProcessingService::MarkFailedKeepingOriginal(ImageRecord record,
                                                                 const Error& reason) {
  record.status = ImageStatus::kFailed;
  record.failure_reason = reason.slug + ": " + reason.message;
  record.variants.clear();
  if (auto saved = records_.SaveDerived(record); !saved) return tl::unexpected(saved.error());
  return record;
}

Result<ImageRecord> ProcessingService::MarkFailed(ImageRecord record, const Error& error) {
  const std::string original = record.key;
  if (policy_.failed_originals == FailedOriginalPolicy::kQuarantine) {
    auto bytes = blobs_.Get(original);
    if (bytes) {
      const std::string quarantine = QuarantineKey(record.owner, record.id);
      if (auto put = blobs_.Put(quarantine, *bytes, record.content_type); !put) {
        return tl::unexpected(put.error());
      }
      record.key = quarantine;
    } else {
      record.key.clear();
    }
  } else {
    record.key.clear();
  }
  record.status = ImageStatus::kFailed;
  record.failure_reason = error.slug + ": " + error.message;
  record.variants.clear();
  // The record first: it must never point at bytes that are gone.
  if (auto saved = records_.SaveDerived(record); !saved) {
    if (saved.error().code == ErrorCode::kNotFound && record.key != original) {
      (void)blobs_.Delete(record.key);  // deleted meanwhile: the quarantined copy is nobody's
    }
    return tl::unexpected(saved.error());
  }
  if (record.key != original) (void)blobs_.Delete(original);
  return record;
}

WorkerPool::WorkerPool(std::size_t workers, std::size_t capacity, Job job, Refill refill)
    : job_(std::move(job)), refill_(std::move(refill)), capacity_(capacity == 0 ? 1 : capacity) {
  for (std::size_t i = 0; i < (workers == 0 ? 1 : workers); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

Result<void> WorkerPool::Enqueue(const RecordRef& ref) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!refill_) {
    not_full_.wait(lock, [this] { return stopping_ || queue_.size() < capacity_; });
  }
  if (stopping_) {
    return Fail(ErrorCode::kUnavailable, "shutting_down", "The server is shutting down");
  }
  if (ids_.contains(ref.id)) return {};  // already queued or running
  if (queue_.size() >= capacity_) {
    // The record is stored as "processing": a worker fetches it once the window has drained.
    in_store_ = true;
    ++left_in_store_;
    return {};
  }
  ids_.insert(ref.id);
  queue_.push_back(ref);
  not_empty_.notify_one();
  return {};
}

void WorkerPool::Resume() {
  if (!refill_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    in_store_ = true;
  }
  not_empty_.notify_one();
}

void WorkerPool::Shutdown() {
  Stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void WorkerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    // Queued records stay "processing" in the store and are queued again at the next start;
    // only the jobs already running are finished.
    for (const RecordRef& ref : queue_) ids_.erase(ref.id);
    queue_.clear();
    for (const auto& [when, ref] : delayed_) ids_.erase(ref.id);
    delayed_.clear();
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

bool WorkerPool::IdleLocked() const {
  return queue_.empty() && delayed_.empty() && running_ == 0 && !in_store_ && !refilling_;
}

void WorkerPool::WaitIdle() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [this] { return stopping_ || IdleLocked(); });
}

std::size_t WorkerPool::Pending() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::size_t in_store =
      in_store_ || refilling_ ? std::max<std::size_t>(left_in_store_, 1) : 0;
  return queue_.size() + delayed_.size() + running_ + in_store;
}

void WorkerPool::RefillFromStore() {
  auto refs = refill_(capacity_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    refilling_ = false;
    if (refs) {
      std::size_t added = 0;
      for (RecordRef& ref : *refs) {
        if (stopping_ || queue_.size() >= capacity_) break;
        if (!ids_.insert(ref.id).second) continue;
        queue_.push_back(std::move(ref));
        ++added;
      }
      // A full page may mean more in the store; a short one that it has been emptied (records
      // stored after the listing were enqueued or left to the store, which set in_store_ again).
      if (refs->size() >= capacity_) {
        in_store_ = true;
        left_in_store_ -= std::min(left_in_store_, added);
      } else if (!in_store_) {
        left_in_store_ = 0;
      }
    }
    // On a store error the records stay "processing": the next overflow or start-up retries.
    if (IdleLocked()) idle_.notify_all();
  }
  not_empty_.notify_all();
}

void WorkerPool::PromoteDueLocked() {
  const auto now = std::chrono::steady_clock::now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    queue_.push_back(std::move(delayed_.begin()->second));
    delayed_.erase(delayed_.begin());
  }
}

void WorkerPool::Run() {
  for (;;) {
    RecordRef ref;
    bool refill = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto ready = [this] {
        PromoteDueLocked();
        return stopping_ || !queue_.empty() || (in_store_ && !refilling_);
      };
      while (!ready()) {
        if (delayed_.empty()) {
          not_empty_.wait(lock);
        } else {
          // A copy: the node may be gone (promoted, or cleared by a stop) while this waits.
          const auto until = delayed_.begin()->first;
          not_empty_.wait_until(lock, until);
        }
      }
      if (stopping_) return;  // Shutdown() emptied the queue; running jobs are other threads'
      if (queue_.empty()) {
        in_store_ = false;
        refilling_ = refill = true;
      } else {
        ref = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
      }
    }
    if (refill) {
      RefillFromStore();
      continue;
    }
    not_full_.notify_one();
    std::optional<std::chrono::milliseconds> retry_after;
    try {
      retry_after = job_(ref);
    } catch (...) {
      // A job must never take the pool down. The record stays "processing"; the attempt that
      // threw was counted in it, so these retries end.
      retry_after = std::chrono::seconds(5);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
      if (retry_after && !stopping_) {
        delayed_.emplace(std::chrono::steady_clock::now() + *retry_after, ref);
      } else {
        ids_.erase(ref.id);
      }
      if (IdleLocked()) idle_.notify_all();
    }
    // A sleeping worker must learn of the new earliest retry.
    if (retry_after) not_empty_.notify_one();
  }
}

}  // namespace imgup
