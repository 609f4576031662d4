package dev.pgmux.session;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;

/**
 * Work that may block or take long (an application's hook, thousands of hash iterations) run off the event loop, on
 * the proxy's virtual threads, with its answer brought back to the loop, as {@link RouteLookup} does for routers.
 */
final class OffLoop {
    private OffLoop() {
    }

    /**
     * Starts {@code work}; {@code then} runs on {@code loop} with its result or what it threw: a
     * {@link TimeoutException} when it took longer than {@code timeout} (its thread is then interrupted), a
     * {@link RejectedExecutionException} when the executor takes no more work (shutting down).
     *
     * @param timeout null for none
     */
    static <T> void call(ExecutorService executor, EventLoop loop, Duration timeout, Callable<T> work,
                         BiConsumer<T, Throwable> then) {
        CompletableFuture<T> answer = new CompletableFuture<>();
        Future<?> task;
        try {
            task = executor.submit(() -> {
                try {
                    answer.complete(work.call());
                } catch (Throwable t) {
                    answer.completeExceptionally(t);
                }
            });
        } catch (RejectedExecutionException e) {
            task = null;
            answer.completeExceptionally(e);
        }
        if (timeout != null && task != null) {
            Future<?> running = task;
            ScheduledFuture<?> timer = loop.schedule(() -> {
                if (answer.completeExceptionally(new TimeoutException())) {
                    running.cancel(true);
                }
            }, timeout.toNanos(), TimeUnit.NANOSECONDS);
            answer.whenComplete((result, error) -> timer.cancel(false));
        }
        answer.whenComplete((result, error) -> loop.execute(() -> then.accept(result, error)));
    }
}
