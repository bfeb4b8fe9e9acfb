# Ruby oauth2 gem 1.4.4 (Debian ruby-oauth2 1.4.4-1+deb12u1, Faraday 1.1.0, Ruby 3.1).
#
# Follows the gem's README ("Usage Examples" and the strategy list):
# `OAuth2::Client.new(client_id, client_secret, site: ..., token_url: ...)`,
# `client.client_credentials.get_token(params)` (scope and Auth0's audience as params), then
# `token.get(url)` for the API; one AccessToken shared by every worker thread.
#
# Shows: 1.4's default auth_scheme :request_body (the secret in a form body); any 2xx with an
# access_token becomes an AccessToken whose header is always 'Bearer %s', so a token_type of
# mac is sent as Bearer; the client follows up to 5 redirects itself (a 307 re-sends the body,
# secret included; Debian's patch drops only an Authorization header across origins);
# `expired?` compares whole seconds and lags up to 1 s behind the real expiry; the token is
# not renewed unless the application asks; Faraday's default: no timeout.
#
# M2M_ADAPTER_FIX=1: `max_redirects: 0`, `connection_opts: { request: { timeout: 10 } }`, a
# check that token_type is Bearer, and a new token from get_token 1 s before `expires_at`.
require 'oauth2'
require 'uri'

def report(what, err)
  text = "#{what}: #{err.class}: #{err.message}"
  secret = ENV['M2M_CLIENT_SECRET'].to_s
  text = text.gsub(secret, '***') unless secret.empty?
  warn text.gsub(/eyJ[\w-]*\.[\w-]+\.[\w-]*/, '***')[0, 300]
end

fix = ENV['M2M_ADAPTER_FIX'] == '1'
token_url = URI(ENV.fetch('M2M_TOKEN_URL'))
options = { site: "#{token_url.scheme}://#{token_url.host}:#{token_url.port}", token_url: token_url.path }
options.update(max_redirects: 0, connection_opts: { request: { timeout: 10 } }) if fix
client = OAuth2::Client.new(ENV.fetch('M2M_CLIENT_ID'), ENV.fetch('M2M_CLIENT_SECRET'), options)
params = {}
params[:scope] = ENV['M2M_SCOPE'] unless ENV['M2M_SCOPE'].to_s.empty?
params[:audience] = ENV['M2M_AUDIENCE'] unless ENV['M2M_AUDIENCE'].to_s.empty?

get_token = lambda do
  token = client.client_credentials.get_token(params)
  raise 'the token response is not a Bearer token' if fix && token['token_type'].to_s.casecmp('bearer') != 0

  token
end

begin
  token = get_token.call
rescue StandardError => e
  report('token', e)
  exit 1
end

calls = Integer(ENV.fetch('M2M_API_CALLS', '1'))
interval = Integer(ENV.fetch('M2M_API_INTERVAL_MS', '0')) / 1000.0
workers = [[Integer(ENV.fetch('M2M_API_CONCURRENCY', '1')), 1].max, calls].min
lock = Mutex.new
queue = Queue.new
calls.times { |i| queue << i }
statuses = []
threads = Array.new(workers) do
  Thread.new do
    first = true
    loop do
      index = begin
        queue.pop(true)
      rescue ThreadError
        break
      end
      sleep interval if !first && interval.positive?
      first = false
      status = 0
      begin
        lock.synchronize { token = get_token.call if Time.now.to_f >= token.expires_at - 1 } if fix
        status = token.get(ENV.fetch('M2M_API_URL')).status
      rescue StandardError => e
        report("API call #{index + 1}", e)
      end
      puts "API call #{index + 1}: #{status}"
      lock.synchronize { statuses << status }
    end
  end
end
threads.each(&:join)
exit(statuses.size == calls && statuses.all? { |s| (200..299).cover?(s) } ? 0 : 1)
