package dev.pgmux.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pausing and resuming reads as a proxy does it, for a peer that cannot take more, never loses a read: every byte
 * sent arrives, on each transport. (The race that {@link Reading} keeps io_uring channels out of, a read lost when
 * {@code AUTO_READ} goes off and on again before the cancelled receive completes, depends on the order of
 * completions and does not show here reliably; {@code BrokenClientIT}'s COPY test stalled on it.)
 */
class ReadingTest {

    /**
     * A relay as pgmux runs one: what a client sends is written on to a second connection; reading from the client
     * pauses while that connection cannot take more (small water marks make that happen every few KB), and resumes
     * when it drains. Every byte must come through.
     */
    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void aRelayPausedForASlowPeerLosesNoRead(String name) throws Exception {
        Transport transport = Transport.byName(name);
        assumeThat(transport.name()).as("transport available here").isEqualTo(name);
        long total = 16L << 20;
        AtomicLong received = new AtomicLong();
        CountDownLatch all = new CountDownLatch(1);
        MultiThreadIoEventLoopGroup group = transport.newGroup(2, "reading-test");
        try {
            Channel sinkServer = new ServerBootstrap().group(group).channel(transport.serverChannelClass())
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ByteBuf buf = (ByteBuf) msg;
                            if (received.addAndGet(buf.readableBytes()) >= total) {
                                all.countDown();
                            }
                            buf.release();
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            Channel relay = new ServerBootstrap().group(group).channel(transport.serverChannelClass())
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel client) {
                            ChannelFuture connected = new Bootstrap().group(client.eventLoop())
                                    .channel(transport.socketChannelClass())
                                    .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1024, 4096))
                                    .handler(new ChannelInboundHandlerAdapter() {
                                        @Override
                                        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                                            if (ctx.channel().isWritable()) {
                                                Reading.flow(client, true);
                                            }
                                        }
                                    })
                                    .connect(sinkServer.localAddress());
                            Channel sink = connected.channel();
                            client.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelActive(ChannelHandlerContext ctx) {
                                    connected.addListener(f -> {
                                        ctx.read(); // one read asked for by hand first, as during a login
                                        Reading.flow(ctx.channel(), true);
                                    });
                                }

                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    sink.write(msg, sink.voidPromise());
                                    if (!sink.isWritable()) {
                                        Reading.flow(ctx.channel(), false); // as late as during a read
                                    }
                                }

                                @Override
                                public void channelReadComplete(ChannelHandlerContext ctx) {
                                    sink.flush();
                                    if (!sink.isWritable()) {
                                        Reading.flow(ctx.channel(), false);
                                    }
                                    Reading.readComplete(ctx.channel());
                                }
                            });
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            Channel client = new Bootstrap().group(group).channel(transport.socketChannelClass())
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(relay.localAddress()).sync().channel();
            byte[] chunk = new byte[1000];
            for (long sent = 0; sent < total; sent += chunk.length) {
                client.write(Unpooled.wrappedBuffer(chunk), client.voidPromise());
                if (sent % (64 * chunk.length) == 0) {
                    client.flush();
                    Thread.sleep(0, 100_000);
                }
            }
            client.flush();
            assertThat(all.await(60, TimeUnit.SECONDS))
                    .as("all %d bytes arrived (got %d)", total, received.get()).isTrue();
            client.close().sync();
            relay.close().sync();
            sinkServer.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
