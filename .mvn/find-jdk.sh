# Finds a JDK 21 or newer for the scripts of the source tree: sourced by ./mvnw (a POSIX sh script, hence no
# bash here), ./pgmux, bench/run and bench/jmh/run. The installed dist/bin/pgmux has its own copy of the rule.
#
# find_jdk: JAVA_HOME if it is a JDK 21+, else the JDK of the java on the PATH if it is 21+, else the newest JDK
# 21+ under /usr/lib/jvm (Debian's and Temurin's packages) or /opt/java. On success JAVA_HOME is exported and
# java_major holds its major version; with none found it returns 1 and leaves JAVA_HOME as it was.
#
# The version is read from the JDK's `release` file (JAVA_VERSION="25.0.1"), which costs no JVM start; only a
# folder without one is asked with `java -version`. Variables other than JAVA_HOME and java_major start with
# _jdk_, not to clash with the script that sources this file.

# _jdk_major HOME: prints the major version of the Java at HOME, 0 if there is none (Java 8 and older print 1).
_jdk_major() {
  _jdk_v=""
  if [ -f "$1/release" ]; then
    _jdk_v="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release")"
  fi
  if [ -z "$_jdk_v" ] && [ -x "$1/bin/java" ]; then
    _jdk_v="$("$1/bin/java" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print v[1] + 0; exit }')"
  fi
  echo "${_jdk_v:-0}"
}

find_jdk() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    _jdk_m="$(_jdk_major "$JAVA_HOME")"
    if [ "$_jdk_m" -ge 21 ]; then
      java_major="$_jdk_m"
      export JAVA_HOME
      return 0
    fi
  fi
  # The java on the PATH is usually a chain of links (/usr/bin/java -> /etc/alternatives/java -> the JDK's).
  _jdk_java="$(command -v java 2>/dev/null || :)"
  if [ -n "$_jdk_java" ]; then
    _jdk_home="$(dirname "$(dirname "$(readlink -f "$_jdk_java" 2>/dev/null || echo "$_jdk_java")")")"
    if [ -x "$_jdk_home/bin/java" ]; then
      _jdk_m="$(_jdk_major "$_jdk_home")"
      if [ "$_jdk_m" -ge 21 ]; then
        JAVA_HOME="$_jdk_home" java_major="$_jdk_m"
        export JAVA_HOME
        return 0
      fi
    fi
  fi
  # The newest JDK in the usual folders. javac is required: a JRE 21 cannot build pgmux. The glob needs
  # pathname expansion, which ./mvnw turns off (set -f).
  _jdk_best="" _jdk_best_m=0
  case "$-" in *f*) _jdk_noglob=1; set +f ;; *) _jdk_noglob="" ;; esac
  for _jdk_home in /usr/lib/jvm/* /opt/java/*; do
    if [ -x "$_jdk_home/bin/java" ] && [ -x "$_jdk_home/bin/javac" ]; then
      _jdk_m="$(_jdk_major "$_jdk_home")"
      if [ "$_jdk_m" -ge 21 ] && [ "$_jdk_m" -gt "$_jdk_best_m" ]; then _jdk_best="$_jdk_home" _jdk_best_m="$_jdk_m"; fi
    fi
  done
  if [ -n "$_jdk_noglob" ]; then set -f; fi
  if [ -n "$_jdk_best" ]; then
    JAVA_HOME="$_jdk_best" java_major="$_jdk_best_m"
    export JAVA_HOME
    return 0
  fi
  return 1
}
