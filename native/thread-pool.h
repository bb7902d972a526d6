// A persistent pool of worker threads for the cpu backend. Workers are created once and reused by
// every op; between jobs they spin briefly (ops usually come back to back) and then sleep on a
// condition variable so an idle process does not burn cores.
#pragma once

#include <atomic>
#include <type_traits>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace sbp {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  // Runs fn(ctx, task, thread) for every task in [0, tasks) on the calling thread plus the workers;
  // returns when all tasks are done. `thread` is in [0, size()) and names the per-thread scratch.
  // Tasks are claimed dynamically; callers make results independent of which thread runs a task.
  void run(int tasks, void (*fn)(void*, int, int), void* ctx);

  template <class F>
  void parallel_for(int tasks, F&& f) {
    if (tasks <= 0) return;
    if (tasks == 1 || threads_ == 1) {
      for (int t = 0; t < tasks; t++) f(t, 0);
      return;
    }
    run(tasks, [](void* c, int task, int thread) { (*static_cast<std::remove_reference_t<F>*>(c))(task, thread); },
        const_cast<void*>(static_cast<const void*>(&f)));
  }

 private:
  void worker_main(int thread);
  void drain(int thread);

  int threads_;
  std::vector<std::thread> workers_;
  // job description, published by bumping generation_
  void (*fn_)(void*, int, int) = nullptr;
  void* ctx_ = nullptr;
  int tasks_ = 0;
  std::atomic<int> next_task_{0};
  std::atomic<int> busy_workers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace sbp
