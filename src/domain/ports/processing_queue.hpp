#pragma once
// The ProcessingQueue port: where an upload hands its record for derived work (the local
// runtime's WorkerPool; on AWS, the S3 event of the original does this job).
#include "base/error.hpp"
#include "domain/image_record.hpp"

namespace imgup {

/// Accepts records to process after their upload.
class ProcessingQueue {
 public:
  virtual ~ProcessingQueue() = default;
  /// Queues the owner's record `id`, which is already stored with status "processing".
  /// Errors: kUnavailable when the queue is shutting down (the record stays "processing").
  virtual Result<void> Enqueue(const RecordRef& ref) = 0;
};

}  // namespace imgup
