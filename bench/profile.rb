# CPU profile of the aggregator under `npm run bench`, with stackprof (not in the bundle):
#
#   gem install stackprof -v 0.2.27 --install-dir /tmp/stackprof
#   LIB=/tmp/stackprof/gems/stackprof-0.2.27/lib
#   BENCH_RECORDS=300000 BENCH_VARIANTS=w1 RUBYOPT="-I$LIB -r$PWD/bench/profile.rb" npm run bench
#   ruby -I$LIB bench/profile.rb /tmp/efk-profile-*.dump
#
# Required (-r), it samples the CPU every millisecond from 3 s after Ruby starts and writes
# /tmp/efk-profile-<pid>.dump when the process exits. It waits because `bundle exec` starts Ruby again,
# and a profiling timer set before that would kill the new process. Run with dump files, it prints them.
require 'stackprof'

if __FILE__ == $PROGRAM_NAME
  ARGV.each do |file|
    puts file
    StackProf::Report.new(Marshal.load(File.binread(file))).print_text(false, 30)
  end
else
  Thread.new do
    sleep 3
    StackProf.start(mode: :cpu, interval: 1000, raw: true)
    at_exit do
      StackProf.stop
      File.binwrite("/tmp/efk-profile-#{Process.pid}.dump", Marshal.dump(StackProf.results))
    end
  end
end
