# The aggregator's forward input (efk-pulumi): Fluentd's in_forward, with what a port that faces the
# internet needs and in_forward lacks.
#
# - Identity. With `identity certificate` a sender is the registered cluster whose certificate (in
#   `client_certs_dir`, one `<cluster>.crt` each, signed by the central stack) has the same public key as
#   the one it presented in the TLS handshake. A certificate our CA signed for a key nobody registered (a
#   revoked cluster, a re-keyed one's old key) is refused before a byte of forward protocol is read. With
#   `identity user` the sender is the forward user it authenticated as. Either way the events are emitted
#   as `<tag_prefix>.<cluster>`, whatever tag the sender chose, and the pipeline takes the cluster from the
#   tag: a record that claims another cluster is stored under its sender's name, and counted.
# - Bounded memory. in_forward feeds bytes to a streaming unpacker that holds a message until it is
#   complete, however large its header says it is; its chunk_size_limit is checked only then. Here a
#   message may not pass `message_limit` bytes (`handshake_limit` before the handshake): the connection is
#   closed once it does, before the bytes are kept, and counted. The count is checked per read (16 KiB at
#   most), so a message is cut at most one read past its limit. Over all its connections, a worker holds at
#   most `pending_limit` bytes of incomplete messages: a connection whose read would pass it is closed.
# - Only MessagePack: Fluent Bit sends nothing else, and JSON would bypass the unpacker's accounting. Nor
#   compressed messages (Fluent Bit's `Compress`, which we do not render): gzip inflates a thousandfold
#   past the limit, which counts the bytes on the wire (318 KB made 127 MiB and a 588 MiB peak).
# - Fair shares. Every cluster's records wait in one output buffer, which blocks all input when it is full:
#   one cluster sending ten times its usual rate would stop every other. Once that buffer is fuller than
#   `fair_share_from` of its limit, a message of a cluster that sent more than `fair_share_factor` times the
#   other clusters' average bytes over the last `fair_share_window` is deferred: not acknowledged, its connection
#   closed, logged and counted. Its agent keeps the chunk and sends it again after its retry delay; the
#   others go on.
# - Certificates in use. With `identity certificate` and `certificate_metric`, the notAfter of the client
#   certificate each cluster presented in its latest handshake (once per connection), labelled by cluster:
#   the certificate its agents really use, which may be older than the one the central signed last.
require 'openssl'
require 'fluent/plugin/in_forward'
require 'prometheus/client'
require_relative 'efk_certificate_metrics'

module Fluent
  module Plugin
    class EfkForwardInput < ForwardInput
      Fluent::Plugin.register_input('efk_forward', self)

      desc 'What a sender is known by: its client certificate, or its forward user.'
      config_param :identity, :enum, list: %i[certificate user]
      desc 'Directory of the registered clusters\' client certificates, <cluster>.crt (identity certificate).'
      config_param :client_certs_dir, :string, default: nil
      desc 'Largest forward message, in bytes, once a sender is known.'
      config_param :message_limit, :size
      desc 'Largest message before the forward handshake is done (identity user).'
      config_param :handshake_limit, :size, default: 16 * 1024
      desc 'Bytes of incomplete messages this worker holds over all its connections, at most.'
      config_param :pending_limit, :size
      desc 'Events are emitted with the tag <tag_prefix>.<cluster>.'
      config_param :tag_prefix, :string
      desc 'The record field a sender names its cluster in.'
      config_param :record_key, :string
      desc 'Counter of connections closed for a message over its limit, by cluster.'
      config_param :oversized_metric, :string
      desc 'Counter of records that named another cluster than their sender, by sender.'
      config_param :impersonation_metric, :string
      desc 'The @id of the output whose buffer fair shares watch; none: no fair shares.'
      config_param :fair_share_output, :string, default: nil
      desc 'How full that buffer is (0 to 1) before fair shares apply.'
      config_param :fair_share_from, :float, default: 0.5
      desc 'A cluster past this many times the other clusters\' average bytes is deferred.'
      config_param :fair_share_factor, :float, default: 2.0
      desc 'The span the shares are measured over (two halves of it: the last and the current).'
      config_param :fair_share_window, :time, default: 10
      desc 'Counter of messages deferred for a cluster over its share, by cluster.'
      config_param :deferred_metric, :string, default: nil
      desc 'Gauge of each cluster\'s client certificate\'s notAfter, as presented (identity certificate).'
      config_param :certificate_metric, :string, default: nil
      desc 'The kind label of those series.'
      config_param :certificate_kind, :string, default: 'edge-client'

      UNKNOWN = 'unauthenticated'.freeze

      def configure(conf)
        super
        if @tag || @add_tag_prefix
          raise Fluent::ConfigError, "efk_forward sets the tag from the sender's identity: remove tag and add_tag_prefix"
        end
        if @identity == :certificate
          transport = conf.elements('transport').first
          unless transport && transport.arg == 'tls' && transport['client_cert_auth'] == 'true'
            raise Fluent::ConfigError, 'identity certificate needs <transport tls> with client_cert_auth true'
          end
          raise Fluent::ConfigError, 'identity certificate needs client_certs_dir' unless @client_certs_dir

          @clusters_by_key = registered_keys(@client_certs_dir)
        elsif !(@security && @security.user_auth)
          raise Fluent::ConfigError, 'identity user needs <security> with user_auth true'
        end
        registry = ::Prometheus::Client.registry
        @base_labels = system_config.workers > 1 ? { worker_id: fluentd_worker_id.to_s } : {}
        labels = [:cluster, *@base_labels.keys]
        @oversized = registry.get(@oversized_metric.to_sym) ||
                     registry.counter(@oversized_metric.to_sym, docstring: 'Forward connections closed for a message over the size limit.', labels: labels)
        @impersonations = registry.get(@impersonation_metric.to_sym) ||
                          registry.counter(@impersonation_metric.to_sym, docstring: 'Records that named another cluster than their sender.', labels: labels)
        if @fair_share_output
          raise Fluent::ConfigError, 'fair_share_output needs deferred_metric' unless @deferred_metric

          @deferred = registry.get(@deferred_metric.to_sym) ||
                      registry.counter(@deferred_metric.to_sym, docstring: 'Messages deferred for a cluster over its share.', labels: labels)
        end
        if @certificate_metric && @identity == :certificate
          @certificates = EfkCertificateMetrics.expiry_gauge(@certificate_metric, @base_labels)
        end
        @shares = { current: Hash.new(0), last: Hash.new(0), since: Fluent::Clock.now }
        @pending = 0
        if @pending_limit < @message_limit
          raise Fluent::ConfigError, "pending_limit #{@pending_limit} is below message_limit #{@message_limit}"
        end
      end

      def start
        super
        return unless @fair_share_output

        agent = Fluent::Engine.root_agent
        outputs = agent.outputs + agent.labels.values.flat_map(&:outputs)
        @fair_buffer = outputs.find { |o| o.plugin_id == @fair_share_output }&.buffer
        raise Fluent::ConfigError, "fair_share_output #{@fair_share_output}: no such buffered output" unless @fair_buffer
      end

      # Whether `cluster`'s message of `bytes` should wait: the watched buffer is fuller than its threshold
      # and the cluster has sent more than its share lately. Counts the bytes it lets through.
      def defer?(cluster, bytes)
        rotate_shares
        if @fair_buffer && over_threshold?
          sent = Hash.new(0)
          [@shares[:last], @shares[:current]].each { |h| h.each { |c, n| sent[c] += n } }
          # Against the others' average: with two clusters, the whole average would always be above half.
          others = sent.values.sum - sent[cluster]
          return true if sent.size > 1 && sent[cluster] > @fair_share_factor * others / (sent.size - 1)
        end
        @shares[:current][cluster] += bytes
        false
      end

      def over_threshold?
        @fair_buffer.stage_size + @fair_buffer.queue_size > @fair_share_from * @fair_buffer.total_limit_size
      end

      def rotate_shares
        now = Fluent::Clock.now
        half = @fair_share_window / 2.0
        return if now - @shares[:since] < half

        @shares[:last] = now - @shares[:since] < 2 * half ? @shares[:current] : Hash.new(0)
        @shares[:current] = Hash.new(0)
        @shares[:since] = now
      end

      # The public key's digest of each registered cluster's certificate. Two clusters with one key would
      # make the key's holder both: refused.
      def registered_keys(dir)
        files = Dir.glob(File.join(dir, '*.crt')).sort
        raise Fluent::ConfigError, "client_certs_dir #{dir}: no <cluster>.crt" if files.empty?

        files.each_with_object({}) do |file, by_key|
          cluster = File.basename(file, '.crt')
          key = key_digest(OpenSSL::X509::Certificate.new(File.read(file)))
          if by_key.key?(key)
            raise Fluent::ConfigError, "clusters #{by_key[key]} and #{cluster} have the same key: refusing both"
          end

          by_key[key] = cluster
        end
      rescue OpenSSL::X509::CertificateError => e
        raise Fluent::ConfigError, "client_certs_dir #{dir}: #{e.message}"
      end

      def key_digest(cert)
        OpenSSL::Digest::SHA256.hexdigest(cert.public_key.to_der)
      end

      # The certificate the sender presented. The TLS handshake is complete when the server helper calls
      # us, and our CA has verified the certificate; the helper keeps the TLS socket in its connection.
      def peer_certificate(conn)
        server = conn.instance_variable_get(:@sock)
        tls = server && server.instance_variable_get(:@_handler_socket)
        tls.respond_to?(:peer_cert) ? tls.peer_cert : nil
      end

      def certificate_identity(conn)
        cert = peer_certificate(conn)
        cluster = cert && @clusters_by_key[key_digest(cert)]
        unless cluster
          log.warn 'Client certificate not registered', address: conn.remote_addr,
                                                       subject: cert ? cert.subject.to_s : '(none)'
        end
        record_certificate(cluster, cert) if cluster
        cluster
      end

      # The cluster's latest connection replaces its series: a renewed certificate takes the old one's place.
      def record_certificate(cluster, cert)
        return unless @certificates

        labels, value = EfkCertificateMetrics.expiry_series(cert, kind: @certificate_kind, source: 'handshake',
                                                                  cluster: cluster, base: @base_labels)
        @certificates.replace([:handshake, cluster], { labels => value })
      end

      def handle_connection(conn)
        cluster = @identity == :certificate ? certificate_identity(conn) : nil
        if @identity == :certificate && cluster.nil?
          # The server helper requires a data callback; nothing is read.
          conn.data { |_data| nil }
          conn.close
          return
        end
        send_data = ->(serializer, data) { conn.write serializer.call(data) }
        state = :established
        nonce = nil
        user_auth_salt = nil
        if @security
          nonce = generate_salt
          user_auth_salt = generate_salt
          send_data.call(:to_msgpack.to_proc, generate_helo(nonce, user_auth_salt))
          state = :pingpong
        end

        limit = -> { state == :established ? @message_limit : @handshake_limit }
        read_limited(conn, limit, -> { cluster }) do |msg, chunk_size, serializer|
          if state == :pingpong
            success, reason_or_salt, shared_key = check_ping(msg, conn.remote_addr, user_auth_salt, nonce)
            unless success
              conn.on(:write_complete) { |c| c.close_after_write_complete }
              send_data.call(serializer, generate_pong(false, reason_or_salt, nonce, shared_key))
              next
            end
            # check_ping has just authenticated this user (PING's fifth field).
            cluster = msg[4] if @identity == :user
            send_data.call(serializer, generate_pong(true, reason_or_salt, nonce, shared_key))
            state = :established
          elsif compressed?(msg)
            log.warn 'Message format refused: compressed', address: conn.remote_addr, cluster: cluster
            conn.close
            next :refused
          elsif defer?(cluster, chunk_size)
            log.info 'Message deferred: cluster over its share of a filling buffer', address: conn.remote_addr,
                                                                                     cluster: cluster, bytes: chunk_size
            @deferred.increment(labels: { cluster: cluster, **@base_labels })
            conn.close
            next :refused
          else
            options = emit_message(msg, chunk_size, conn, cluster)
            r = response(options)
            send_data.call(serializer, r) if r
          end
        end
      end

      def read_limited(conn, limit, cluster, &block)
        unpacker = Fluent::MessagePackFactory.msgpack_unpacker
        serializer = :to_msgpack.to_proc
        bytes = 0
        first = true
        refused = false
        # What this connection holds of an incomplete message leaves the worker's budget when it closes.
        conn.on(:close) do |_c|
          @pending -= bytes
          bytes = 0
        end
        conn.data do |data|
          next if refused

          # As in_forward, the connection's first byte tells the format; a later read may start anywhere.
          if first && (data.start_with?('{') || data.start_with?('['))
            refused = true
            log.warn 'Message format refused: only MessagePack', address: conn.remote_addr
            conn.close
            next
          end
          first = false
          if bytes + data.bytesize > limit.call
            refused = true
            refuse_oversized(conn, cluster.call, bytes + data.bytesize, limit.call)
            unpacker = nil
            next
          end
          if @pending + data.bytesize > @pending_limit
            refused = true
            refuse_over_budget(conn, cluster.call)
            unpacker = nil
            next
          end
          bytes += data.bytesize
          @pending += data.bytesize
          unpacker.feed_each(data) do |obj|
            if block.call(obj, bytes, serializer) == :refused
              refused = true
              unpacker = nil
              break
            end
            @pending -= bytes
            bytes = 0
          end
        end
      end

      def compressed?(msg)
        msg.is_a?(Array) && msg[1].is_a?(String) && msg[2].is_a?(Hash) && ![nil, 'text'].include?(msg[2]['compressed'])
      end

      def refuse_over_budget(conn, cluster)
        who = cluster || UNKNOWN
        log.warn "Worker's message budget exhausted", address: conn.remote_addr, cluster: who,
                                                      pending: @pending, budget: @pending_limit
        @oversized.increment(labels: { cluster: who, **@base_labels })
        conn.close
      end

      def refuse_oversized(conn, cluster, bytes, limit)
        who = cluster || UNKNOWN
        log.warn 'Message over the size limit', address: conn.remote_addr, cluster: who, bytes: bytes, limit: limit
        @oversized.increment(labels: { cluster: who, **@base_labels })
        conn.close
      end

      # in_forward's on_message, with the tag taken from the sender's identity and claims of another
      # cluster counted. A packed stream is decoded here once; the filters after us read the same copy.
      def emit_message(msg, chunk_size, conn, cluster)
        unless msg.is_a?(Array)
          log.warn 'incoming chunk is broken:', host: conn.remote_host, cluster: cluster
          return nil
        end
        tag = "#{@tag_prefix}.#{cluster}"
        entries = msg[1]
        case entries
        when String
          option = msg[2]
          size = (option && option['size']) || 0
          es_class = option && option['compressed'] == 'gzip' ? Fluent::CompressedMessagePackEventStream : Fluent::MessagePackEventStream
          es = es_class.new(entries, nil, size.to_i)
        when Array
          option = msg[2]
          es = Fluent::MultiEventStream.new
          entries.each do |e|
            next unless e.is_a?(Array) && e[1].is_a?(Hash)

            time = e[0]
            time = Fluent::EventTime.now if time.nil? || time.to_i.zero?
            es.add(time, e[1])
          end
        else
          option = msg[3]
          record = msg[2]
          return option unless record.is_a?(Hash)

          time = msg[1]
          time = Fluent::EventTime.now if time.nil? || time.to_i.zero?
          es = Fluent::OneEventStream.new(time, record)
        end
        count_impersonations(es, cluster)
        router.emit_stream(tag, es)
        option
      end

      def count_impersonations(es, cluster)
        claims = 0
        es.each do |_time, record|
          claimed = record.is_a?(Hash) ? record[@record_key] : nil
          claims += 1 if !claimed.nil? && claimed != cluster
        end
        @impersonations.increment(by: claims, labels: { cluster: cluster, **@base_labels }) if claims.positive?
      end
    end
  end
end
