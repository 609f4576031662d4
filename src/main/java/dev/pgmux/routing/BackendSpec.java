package dev.pgmux.routing;

import com.fasterxml.jackson.annotation.JsonCreator;
import dev.pgmux.BackendConfig;
import dev.pgmux.BackendConfig.Endpoint;
import dev.pgmux.LoadBalanceHosts;
import dev.pgmux.SslMode;
import dev.pgmux.TargetSessionAttrs;
import dev.pgmux.TcpPort;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A backend as text, the way every source writes one: a route of the config file (a mapping, or the one-line
 * notation of {@code --route}), a pattern rule's backend (with {@code {placeholders}}), an HTTP routing service's
 * answer, a row of the routing table. The components are the keys of a route in the config file (Jackson reads
 * them in {@code snake_case}). {@link #parse} is the one place where such text becomes a {@link BackendConfig},
 * so that the same text is the same backend wherever it comes from.
 *
 * <p><b>Blank values.</b> A key that is absent, null or blank (empty, or only white space) is not set, and means
 * what leaving it out means: {@code user} and {@code database} keep the client's, {@code port} is 5432,
 * {@code sslmode} disable, {@code sslrootcert} the JDK's trust store, {@code target_session_attrs} any,
 * {@code load_balance_hosts} disable; an empty {@code hosts} list is not set either. Why not an error: libpq
 * reads its connection parameters the same way (an empty value is the default), a pattern group that took no part
 * fills in nothing, and JSON encoders write {@code ""} for a string never set, so refusing one source's blank
 * would fail another source's routes. What a refusal would catch, a templated file whose variable came out
 * empty, gives a client nothing it could not ask for by name: the backend still authenticates the user and checks
 * its right to the database. The host alone must be given: there is no backend without one. A startup
 * parameter's value is sent as written, blank too (an empty {@code search_path} means something); a null one is
 * not sent.
 *
 * @param host               a host, or a comma-separated list {@code pg1,pg2:5433} whose entries may carry a port
 * @param port               the port of {@code host} (and of list entries without one); a number, as text
 * @param hosts              several hosts as {@code HOST[:PORT]} entries, instead of {@code host}
 * @param user               the user name sent to the backend
 * @param database           the database name sent to the backend
 * @param sslmode            {@link SslMode} in libpq's spelling
 * @param sslrootcert        a PEM file of CA certificates
 * @param targetSessionAttrs {@link TargetSessionAttrs} in libpq's spelling
 * @param loadBalanceHosts   {@link LoadBalanceHosts}
 * @param parameters         extra startup parameters for the backend
 */
public record BackendSpec(String host, String port, List<String> hosts, String user, String database, String sslmode,
                          String sslrootcert, String targetSessionAttrs, String loadBalanceHosts,
                          Map<String, String> parameters) {

    /** libpq's default port, for a backend whose port is not set. */
    public static final int DEFAULT_PORT = 5432;

    public BackendSpec {
        // Copies that keep nulls: a null item is a problem to report by its index, not a crash here.
        hosts = hosts == null ? null : Collections.unmodifiableList(new ArrayList<>(hosts));
        parameters = parameters == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /** What is wrong with one key of a spec; {@code index} is the item of {@code hosts}, or -1. */
    public record Problem(String key, int index, String message) {
        @Override
        public String toString() {
            return key + (index >= 0 ? "[" + index + "]" : "") + ": " + message;
        }
    }

    /** A value read from a spec, or the problems that kept it from being one (then {@code value} is null). */
    public record Parsed<T>(T value, List<Problem> problems) {
        public Parsed {
            problems = List.copyOf(problems);
        }

        /** @throws IllegalArgumentException naming every problem ({@code port: must be between ...}) */
        public T orElseThrow() {
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException(problems.stream().map(Problem::toString)
                        .collect(Collectors.joining("; ")));
            }
            return value;
        }
    }

    /**
     * Reads the one-line notation {@code [USER@]HOST[:PORT][,HOST[:PORT]...][/DATABASE][?NAME=VALUE&...]} of the
     * {@code --route} and {@code --default-route} flags, which a route of the config file may be too. The options
     * {@code sslmode}, {@code sslrootcert}, {@code target_session_attrs} and {@code load_balance_hosts} set those
     * keys; any other {@code NAME=VALUE} is a startup parameter. An empty user ({@code @db}) or database
     * ({@code db/}) is not set, as everywhere.
     *
     * @throws IllegalArgumentException if the text is not in the notation (the message quotes it); the values are
     *                                  checked by {@link #parse}
     */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static BackendSpec fromNotation(String text) {
        String rest = text.strip();
        String sslmode = null;
        String sslrootcert = null;
        String targetSessionAttrs = null;
        String loadBalanceHosts = null;
        Map<String, String> parameters = new LinkedHashMap<>();
        int q = rest.indexOf('?');
        if (q >= 0) {
            for (String option : rest.substring(q + 1).split("&")) {
                int eq = option.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("bad option \"" + option + "\" in backend " + text);
                }
                String value = option.substring(eq + 1);
                switch (option.substring(0, eq)) {
                    case "sslmode" -> sslmode = value;
                    case "sslrootcert" -> sslrootcert = value;
                    case "target_session_attrs" -> targetSessionAttrs = value;
                    case "load_balance_hosts" -> loadBalanceHosts = value;
                    default -> parameters.put(option.substring(0, eq), value);
                }
            }
            rest = rest.substring(0, q);
        }
        String user = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            user = rest.substring(0, at);
            rest = rest.substring(at + 1);
        }
        String database = null;
        int slash = rest.indexOf('/', rest.startsWith("[") ? rest.indexOf(']') : 0);
        if (slash >= 0) {
            database = rest.substring(slash + 1);
            rest = rest.substring(0, slash);
        }
        List<Endpoint> entries = new ArrayList<>();
        for (String entry : rest.split(",", -1)) {
            entries.add(Endpoint.parse(entry, DEFAULT_PORT, "backend " + text));
        }
        // As host and port when there is one host; several go into host as a list, which parse() reads alike.
        String host = entries.size() == 1 ? entries.getFirst().host()
                : entries.stream().map(Endpoint::toString).collect(Collectors.joining(","));
        String port = entries.size() == 1 ? Integer.toString(entries.getFirst().port()) : null;
        return new BackendSpec(host, port, null, user, database, sslmode, sslrootcert, targetSessionAttrs,
                loadBalanceHosts, parameters);
    }

    /**
     * The backend, with every problem of every key.
     *
     * @param files how {@code sslrootcert} names a file: a config file's names are relative to its directory and
     *              must be readable; an {@link IllegalArgumentException} from it is a problem of that key
     */
    public Parsed<BackendConfig> parse(Function<String, Path> files) {
        Reader r = new Reader(false, files);
        r.hostGiven();
        int port = r.port();
        List<Endpoint> endpoints = r.endpoints(port);
        SslMode ssl = r.read("sslmode", sslmode, SslMode.DISABLE, SslMode::parse);
        Path rootCert = r.read("sslrootcert", sslrootcert, null, files);
        TargetSessionAttrs attrs = r.read("target_session_attrs", targetSessionAttrs, TargetSessionAttrs.ANY,
                TargetSessionAttrs::parse);
        LoadBalanceHosts balance = r.read("load_balance_hosts", loadBalanceHosts, LoadBalanceHosts.DISABLE,
                LoadBalanceHosts::parse);
        Map<String, String> params = r.parameters();
        if (!r.problems.isEmpty()) {
            return new Parsed<>(null, r.problems);
        }
        return new Parsed<>(new BackendConfig(endpoints, notSet(user), notSet(database), params, ssl, rootCert, attrs,
                balance), List.of());
    }

    /**
     * The backend, its {@code sslrootcert} taken as it is.
     *
     * @throws IllegalArgumentException naming every problem
     */
    public BackendConfig toBackendConfig() {
        return parse(BackendSpec::path).orElseThrow();
    }

    /**
     * A pattern rule's backend: {@code {name}} placeholders may stand in the host, port, user, database and
     * parameter values, which are checked once filled in ({@link BackendTemplate#expand}); the rest is checked
     * here. Several hosts go in {@code host} as a list: {@code hosts} is not taken, because a placeholder's value
     * must not be read as a {@code HOST:PORT} of its own.
     */
    public Parsed<BackendTemplate> parseTemplate(Function<String, Path> files) {
        Reader r = new Reader(true, files);
        if (hasHosts()) {
            r.problem("hosts", -1, "a rule's backend takes host:, a comma-separated list for several hosts");
        } else {
            r.hostGiven();
            r.endpoints(r.port());
        }
        SslMode ssl = r.read("sslmode", sslmode, SslMode.DISABLE, SslMode::parse);
        Path rootCert = r.read("sslrootcert", sslrootcert, null, files);
        TargetSessionAttrs attrs = r.read("target_session_attrs", targetSessionAttrs, TargetSessionAttrs.ANY,
                TargetSessionAttrs::parse);
        LoadBalanceHosts balance = r.read("load_balance_hosts", loadBalanceHosts, LoadBalanceHosts.DISABLE,
                LoadBalanceHosts::parse);
        Map<String, String> params = r.parameters();
        if (!r.problems.isEmpty()) {
            return new Parsed<>(null, r.problems);
        }
        return new Parsed<>(new BackendTemplate(host.strip(), notSet(port), notSet(user), notSet(database), params,
                ssl, rootCert, attrs, balance), List.of());
    }

    /** Whether {@code hosts} is set: an empty list is not, as a blank text is not. */
    private boolean hasHosts() {
        return hosts != null && !hosts.isEmpty();
    }

    /** {@code text}, or null when it is blank: the one rule for values that are not set. */
    static String notSet(String text) {
        return text == null || text.isBlank() ? null : text;
    }

    private static Path path(String name) {
        return Path.of(name.strip());
    }

    /** One reading of this spec: the problems found so far. */
    private final class Reader {
        private final boolean template;
        private final Function<String, Path> files;
        private final List<Problem> problems = new ArrayList<>();

        Reader(boolean template, Function<String, Path> files) {
            this.template = template;
            this.files = files;
        }

        void problem(String key, int index, String message) {
            problems.add(new Problem(key, index, message));
        }

        /** Whether {@code text} is to be checked now: not a template's text with placeholders in it. */
        boolean literal(String text) {
            return !template || BackendTemplate.placeholders(text).isEmpty();
        }

        <T> T read(String key, String text, T notSet, Function<String, T> parse) {
            if (notSet(text) == null) {
                return notSet;
            }
            try {
                return parse.apply(text);
            } catch (IllegalArgumentException e) {
                problem(key, -1, e.getMessage());
                return notSet;
            }
        }

        void hostGiven() {
            boolean hasHost = notSet(host) != null;
            if (hasHosts() && hasHost) {
                problem("hosts", -1, "give host: or hosts:, not both");
            } else if (!hasHosts() && !hasHost) {
                problem("host", -1, "missing: every route needs a host (or hosts:)");
            }
        }

        /** The port, 5432 when not set (or wrong: the problem is reported once, not again for every host). */
        int port() {
            if (notSet(port) == null || !literal(port)) {
                return DEFAULT_PORT;
            }
            try {
                return TcpPort.parse(port);
            } catch (IllegalArgumentException e) {
                boolean number = port.strip().matches("-?[0-9]+");
                problem("port", -1, template && !number
                        ? "must be a number or {placeholders}, not \"" + port + "\"" : e.getMessage());
                return DEFAULT_PORT;
            }
        }

        /** The hosts, those of a list with their own port or else {@code port}; empty after a problem. */
        List<Endpoint> endpoints(int port) {
            List<Endpoint> endpoints = new ArrayList<>();
            if (hasHosts()) {
                for (int i = 0; i < hosts.size(); i++) {
                    String h = hosts.get(i);
                    if (notSet(h) == null) {
                        problem("hosts", i, "empty host");
                        continue;
                    }
                    try {
                        endpoints.add(Endpoint.parse(h, port));
                    } catch (IllegalArgumentException e) {
                        problem("hosts", i, e.getMessage());
                    }
                }
            } else if (notSet(host) != null && literal(host)) {
                try {
                    // BackendConfig.Builder's reading of a host: a comma-separated list, or one host as it is.
                    endpoints.addAll(BackendConfig.builder().host(host.strip()).port(port).build().hosts());
                } catch (IllegalArgumentException e) {
                    problem("host", -1, e.getMessage());
                }
            }
            return endpoints;
        }

        /** The parameters to send: null values are not set; a name is needed (an empty one ends the list). */
        Map<String, String> parameters() {
            Map<String, String> out = new LinkedHashMap<>();
            parameters.forEach((name, value) -> {
                if (name == null || name.isBlank()) {
                    // In the StartupMessage an empty name ends the parameter list: the rest would be garbage.
                    problem("parameters", -1, "a startup parameter needs a name, not \"" + name + "\"");
                } else if (value != null) {
                    out.put(name, value);
                }
            });
            return out;
        }
    }
}
