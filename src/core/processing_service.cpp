#include "core/processing_service.hpp"

#include <algorithm>
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

Result<ImageRecord> ProcessingService::Process(std::string_view owner, std::string_view id) {
  auto record = records_.Get(owner, id);
  if (!record) return record;
  if (record->status != ImageStatus::kProcessing) return record;

  auto bytes = blobs_.Get(record->key);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kNotFound) {
      return MarkFailed(std::move(*record),
                        Error{ErrorCode::kUnprocessable, "original_missing",
                              "The original's bytes are missing", bytes.error().detail});
    }
    return tl::unexpected(bytes.error());
  }
  auto sniffed = SniffImage(*bytes);
  if (!sniffed) return MarkFailed(std::move(*record), sniffed.error());
  auto processed = processor_.Process(*bytes, *sniffed, policy_.limits);
  if (!processed) {
    // Storage-like failures are retried later; only the image's own faults fail it for good.
    const ErrorCode code = processed.error().code;
    if (code == ErrorCode::kUnavailable) return tl::unexpected(processed.error());
    return MarkFailed(std::move(*record), processed.error());
  }

  // Variants first, record second: a crash in between leaves orphan variants for fsck, never a
  // ready record whose variants are missing.
  ImageRecord& done = *record;
  done.variants.clear();
  for (DerivedVariant& variant : processed->variants) {
    const std::string key = VariantKey(owner, id, variant.name);
    if (auto put = blobs_.Put(key, variant.bytes, variant.content_type); !put) {
      return tl::unexpected(put.error());
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
    }
    return tl::unexpected(saved.error());
  }
  return done;
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    // Queued records stay "processing" in the store and are queued again at the next start;
    // only the jobs already running are finished.
    for (const RecordRef& ref : queue_) ids_.erase(ref.id);
    queue_.clear();
  }
  not_empty_.notify_all();
  not_full_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

bool WorkerPool::IdleLocked() const {
  return queue_.empty() && running_ == 0 && !in_store_ && !refilling_;
}

void WorkerPool::WaitIdle() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [this] { return stopping_ || IdleLocked(); });
}

std::size_t WorkerPool::Pending() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::size_t in_store =
      in_store_ || refilling_ ? std::max<std::size_t>(left_in_store_, 1) : 0;
  return queue_.size() + running_ + in_store;
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

void WorkerPool::Run() {
  for (;;) {
    RecordRef ref;
    bool refill = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      not_empty_.wait(
          lock, [this] { return stopping_ || !queue_.empty() || (in_store_ && !refilling_); });
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
    job_(ref);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
      ids_.erase(ref.id);
      if (IdleLocked()) idle_.notify_all();
    }
  }
}

}  // namespace imgup
