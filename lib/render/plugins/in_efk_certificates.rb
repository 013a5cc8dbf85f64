# When the certificates in use expire (efk-pulumi): every `interval`, reads the certificate files the
# aggregator and Elasticsearch have loaded and TLS-connects to the endpoints whose certificates are in use,
# and sets one gauge series per certificate to its notAfter, and one probe gauge per file or endpoint to 1
# (a certificate was read) or 0 (it was not), so that a probe that fails is alerted on instead of silently
# leaving its series out. It emits no event. Run it in one worker (`<worker 0>`): every worker would probe
# the same.
#
# - <file>: every certificate of a PEM file (a bundle gives one series per certificate).
# - <directory>: every `*.crt` of a directory, each the certificate of the cluster its file is named after.
# - <endpoint>: the chain the server presents. Nothing is sent and nothing is trusted from the connection:
#   the certificates are read in the verify callback, which OpenSSL calls when the server's Certificate
#   message arrives, before the server asks for ours. A server that then refuses us for want of a client
#   certificate (Elasticsearch's transport layer) has shown its chain all the same: TLS 1.2 fails the
#   handshake, TLS 1.3 completes it and sends the alert after (tests/integration/certificates.test.ts
#   checks both against a server that requires a client certificate). With `each_address`, every address the
#   host resolves to is probed (a headless Service: one per node).
require 'openssl'
require 'socket'
require 'fluent/plugin/input'
require_relative 'efk_certificate_metrics'

module Fluent
  module Plugin
    class EfkCertificatesInput < Input
      Fluent::Plugin.register_input('efk_certificates', self)

      helpers :thread

      desc 'Seconds between probe rounds (the first runs at start).'
      config_param :interval, :time, default: 300
      desc 'Seconds a connection and its handshake may take.'
      config_param :timeout, :time, default: 10
      desc 'The gauge of each certificate\'s notAfter.'
      config_param :expiry_metric, :string
      desc 'The gauge of each probe\'s success.'
      config_param :probe_metric, :string

      config_section :file, param_name: :files, multi: true do
        config_param :kind, :string
        config_param :path, :string
      end
      config_section :directory, param_name: :directories, multi: true do
        config_param :kind, :string
        config_param :path, :string
      end
      config_section :endpoint, param_name: :endpoints, multi: true do
        config_param :kind, :string
        config_param :host, :string
        config_param :port, :integer
        config_param :each_address, :bool, default: false
      end

      def configure(conf)
        super
        if @files.empty? && @directories.empty? && @endpoints.empty?
          raise Fluent::ConfigError, 'efk_certificates: nothing to probe (no <file>, <directory> or <endpoint>)'
        end

        @base_labels = system_config.workers > 1 ? { worker_id: fluentd_worker_id.to_s } : {}
        @expiry = EfkCertificateMetrics.expiry_gauge(@expiry_metric, @base_labels)
        @probe = EfkCertificateMetrics.probe_gauge(@probe_metric, @base_labels)
      end

      def multi_workers_ready?
        true
      end

      def start
        super
        thread_create(:efk_certificates) do
          next_round = Fluent::Clock.now
          while thread_current_running?
            if Fluent::Clock.now >= next_round
              probe_all
              next_round = Fluent::Clock.now + @interval
            end
            sleep 0.5
          end
        end
      end

      def probe_all
        expiry = {}
        probes = {}
        record = lambda do |kind, source, certs, cluster: ''|
          probes[{ kind: kind, source: source, **@base_labels }] = certs.empty? ? 0 : 1
          certs.each do |cert|
            labels, value = EfkCertificateMetrics.expiry_series(cert, kind: kind, source: source, cluster: cluster,
                                                                      base: @base_labels)
            expiry[labels] = value
          end
        end
        @files.each { |f| record.call(f.kind, f.path, read_file(f.kind, f.path)) }
        @directories.each do |d|
          files = Dir.glob(File.join(d.path, '*.crt')).sort
          log.warn 'Certificate probe: no *.crt', kind: d.kind, path: d.path if files.empty?
          record.call(d.kind, d.path, []) if files.empty?
          files.each { |f| record.call(d.kind, f, read_file(d.kind, f), cluster: File.basename(f, '.crt')) }
        end
        @endpoints.each do |e|
          addresses(e).each do |address, source|
            record.call(e.kind, source, address ? presented_chain(e, address) : [])
          end
        end
        @expiry.replace(:probes, expiry)
        @probe.replace(:probes, probes)
      rescue StandardError => e
        log.error 'Certificate probe round failed', error: e
      end

      # Every PEM certificate in the file; none (and a warning) when it cannot be read.
      def read_file(kind, path)
        pem = File.read(path)
        certs = pem.scan(/-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----/m).map do |block|
          OpenSSL::X509::Certificate.new(block)
        end
        log.warn 'Certificate probe: no certificate in file', kind: kind, path: path if certs.empty?
        certs
      rescue SystemCallError, OpenSSL::X509::CertificateError => e
        log.warn 'Certificate probe: cannot read', kind: kind, path: path, error: e.message
        []
      end

      # [address, source] to probe: the host itself, or each address it resolves to ([nil, host:port] when it
      # resolves to none).
      def addresses(e)
        endpoint = "#{e.host}:#{e.port}"
        return [[e.host, endpoint]] unless e.each_address

        ips = Addrinfo.getaddrinfo(e.host, e.port, nil, :STREAM).map(&:ip_address).uniq
        ips.map { |ip| [ip, ip.include?(':') ? "[#{ip}]:#{e.port}" : "#{ip}:#{e.port}"] }
      rescue SocketError => err
        log.warn 'Certificate probe: cannot resolve', kind: e.kind, host: e.host, error: err.message
        [[nil, endpoint]]
      end

      # The certificates the server presents, leaf first; none when no certificate arrived.
      def presented_chain(e, address)
        seen = {}
        context = OpenSSL::SSL::SSLContext.new
        context.min_version = OpenSSL::SSL::TLS1_2_VERSION
        # VERIFY_PEER only so that OpenSSL calls us with the chain; we accept it whatever it is, because
        # nothing is sent on this connection and an expired certificate must still be read.
        context.verify_mode = OpenSSL::SSL::VERIFY_PEER
        context.verify_callback = lambda do |_ok, store|
          [*store.chain, store.current_cert].compact.each { |c| seen[c.to_der] ||= c }
          true
        end
        tcp = Socket.tcp(address, e.port, connect_timeout: @timeout)
        ssl = OpenSSL::SSL::SSLSocket.new(tcp, context)
        ssl.sync_close = true
        ssl.hostname = e.host unless e.host.match?(/\A[\d.:]+\z/)
        begin
          handshake(ssl)
        rescue OpenSSL::SSL::SSLError, SystemCallError, IOError => err
          # Expected when the server wants a client certificate; the chain has arrived before.
          log.debug 'Certificate probe: handshake ended', kind: e.kind, address: address, error: err.message
        ensure
          ssl.close rescue nil
        end
        log.warn 'Certificate probe: no certificate presented', kind: e.kind, address: address if seen.empty?
        seen.values
      rescue SystemCallError, SocketError, IOError, Errno::ETIMEDOUT => err
        log.warn 'Certificate probe: cannot connect', kind: e.kind, host: e.host, address: address, port: e.port,
                                                      error: err.message
        []
      end

      def handshake(ssl)
        deadline = Fluent::Clock.now + @timeout
        loop do
          case ssl.connect_nonblock(exception: false)
          when :wait_readable then wait(ssl, deadline) { |io, t| IO.select([io], nil, nil, t) }
          when :wait_writable then wait(ssl, deadline) { |io, t| IO.select(nil, [io], nil, t) }
          else return
          end
        end
      end

      def wait(ssl, deadline)
        left = deadline - Fluent::Clock.now
        raise Errno::ETIMEDOUT, 'TLS handshake' if left <= 0 || yield(ssl.to_io, left).nil?
      end
    end
  end
end
