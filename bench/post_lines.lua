-- wrk script: POST one prepared request per line of BENCH_LINES (a file of "header<TAB>body", the
-- header's name in BENCH_HEADER and the body's type in BENCH_CONTENT_TYPE),
-- each wrk thread taking every n-th line, so that no line is sent twice while lines last.
-- The path comes from the URL given to wrk; redirects (3xx) count as success, as they do for
-- a browser.

local threads = {}

function setup(thread)
   thread:set("index", #threads)
   table.insert(threads, thread)
end

function init(args)
   lines = {}
   for line in io.lines(os.getenv("BENCH_LINES")) do
      local tab = line:find("\t", 1, true)
      table.insert(lines, {line:sub(1, tab - 1), line:sub(tab + 1)})
   end
   stride = tonumber(os.getenv("BENCH_THREADS"))
   position = index + 1
   header = os.getenv("BENCH_HEADER")
   content_type = os.getenv("BENCH_CONTENT_TYPE")
end

function request()
   local item = lines[position]
   position = position + stride
   if position > #lines then
      position = (position - 1) % stride + 1
   end
   return wrk.format("POST", nil, {[header] = item[1], ["Content-Type"] = content_type}, item[2])
end
