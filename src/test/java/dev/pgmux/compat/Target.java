package dev.pgmux.compat;

import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What a check program is given: the route's connection URL and three options. The same arguments for every
 * program, in every language: {@code [--tls] [--killed] [--tag=NAME] [--victim] postgresql://USER:PW@HOST:PORT/DB}.
 *
 * @param tls    pgmux accepts TLS there: run the TLS and channel binding checks (certificates are not verified)
 * @param killed a victim of this driver was killed on the route just before: run {@link Check#KILLED} first
 * @param tag    a name for the program's tables ({@code compat_TAG}) and channels, unique per driver and route
 * @param victim connect and run a {@code pg_sleep} tagged {@code compat-victim TAG} until killed, instead of checks
 */
record Target(String host, int port, String user, String password, String database, String tag, boolean tls,
              boolean killed, boolean victim) {

    /** The query a victim runs; the runner finds it in pg_stat_activity by its comment. */
    static String victimQuery(String tag) {
        return "select pg_sleep(300) /* compat-victim " + tag + " */";
    }

    static Target parse(List<String> args) {
        boolean tls = false;
        boolean killed = false;
        boolean victim = false;
        String tag = "check";
        String url = null;
        for (String a : args) {
            if (a.equals("--tls")) {
                tls = true;
            } else if (a.equals("--killed")) {
                killed = true;
            } else if (a.equals("--victim")) {
                victim = true;
            } else if (a.startsWith("--tag=")) {
                tag = a.substring("--tag=".length());
            } else if (!a.startsWith("--")) {
                url = a;
            } else {
                throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (url == null) {
            throw new IllegalArgumentException("usage: [--tls] [--killed] [--tag=NAME] [--victim] postgresql://USER:PW@HOST:PORT/DB");
        }
        URI uri = URI.create(url);
        String[] userInfo = uri.getRawUserInfo().split(":", 2);
        return new Target(uri.getHost(), uri.getPort(), decode(userInfo[0]), decode(userInfo[1]),
                uri.getPath().substring(1), tag, tls, killed, victim);
    }

    String url() {
        return "postgresql://" + encode(user) + ":" + encode(password) + "@" + host + ":" + port + "/" + database;
    }

    List<String> args() {
        List<String> args = new ArrayList<>();
        if (tls) {
            args.add("--tls");
        }
        if (killed) {
            args.add("--killed");
        }
        if (victim) {
            args.add("--victim");
        }
        args.add("--tag=" + tag);
        args.add(url());
        return args;
    }

    Target asVictim() {
        return new Target(host, port, user, password, database, tag, tls, false, true);
    }

    /** The program's own table. */
    String table() {
        return "compat_" + tag;
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }
}
