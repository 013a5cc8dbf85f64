# The certificate-expiry gauges of the aggregator (efk-pulumi), shared by the efk_certificates input (the
# files and endpoints it probes) and the efk_forward input (each edge's client certificate as presented in
# the TLS handshake). Not a plugin: both require it.
#
# A certificate that is renewed disappears from what is in use, and so must its series: a gauge that kept
# the old certificate's notAfter would keep its alert firing after the renewal. Prometheus' client has no
# way to remove a label set, so these gauges hold their series in groups, each group replaced whole by its
# owner (a probe round, or a cluster's latest connection), and expose the union.
require 'openssl'
require 'prometheus/client'

module EfkCertificateMetrics
  # kind: what the certificate is for; subject: its subject; ca: whether it is a CA certificate; cluster:
  # the forwarding cluster (client certificates only, else empty); source: the file, endpoint or address
  # it was read from, or `handshake`.
  EXPIRY_LABELS = %i[kind subject ca cluster source].freeze
  # kind and source as above: 1 when the last round read a certificate there, 0 when it could not.
  PROBE_LABELS = %i[kind source].freeze

  # A gauge whose series are set a group at a time; see above.
  class GroupedGauge < ::Prometheus::Client::Gauge
    def initialize(*args, **kwargs)
      super
      @groups = {}
      @groups_lock = Mutex.new
    end

    # Replaces the series of `group` by `series` ({ labels => value }).
    def replace(group, series)
      validated = series.each_with_object({}) { |(labels, value), h| h[label_set_for(labels)] = value.to_f }
      @groups_lock.synchronize { @groups = @groups.merge(group => validated) }
    end

    # The text exposition (fluent-plugin-prometheus' /metrics) reads every series from here.
    def values
      groups = @groups_lock.synchronize { @groups }
      groups.values.each_with_object({}) { |series, all| all.merge!(series) }
    end
  end

  module_function

  # The registry's gauge `name`, made on first use. Both inputs of a worker share it.
  def gauge(name, docstring, labels)
    registry = ::Prometheus::Client.registry
    existing = registry.get(name.to_sym)
    return existing if existing.is_a?(GroupedGauge)
    raise Fluent::ConfigError, "metric #{name} is already registered as another kind" if existing

    registry.register(GroupedGauge.new(name.to_sym, docstring: docstring, labels: labels))
  rescue ::Prometheus::Client::Registry::AlreadyRegisteredError
    registry.get(name.to_sym)
  end

  def expiry_gauge(name, base_labels)
    gauge(name, 'When a certificate in use expires (its notAfter), in seconds since the epoch.',
          EXPIRY_LABELS + base_labels.keys)
  end

  def probe_gauge(name, base_labels)
    gauge(name, 'Whether the last certificate probe of a file or endpoint read a certificate (1) or failed (0).',
          PROBE_LABELS + base_labels.keys)
  end

  # The series of one certificate.
  def expiry_series(cert, kind:, source:, cluster: '', base: {})
    ca = cert.extensions.any? { |e| e.oid == 'basicConstraints' && e.value.include?('CA:TRUE') }
    labels = { kind: kind, subject: cert.subject.to_s(OpenSSL::X509::Name::RFC2253), ca: ca.to_s,
               cluster: cluster, source: source, **base }
    [labels, cert.not_after.to_i]
  end
end
