"""The ``%openrouter help`` cheat sheet (also the README's)."""

CHEAT_SHEET = """\
### `%%openrouter` cheat sheet

**Chat** (the cell is the prompt; streams; remembers the conversation):

```
%%openrouter [-m MODEL] [-s SYSTEM] [-t TEMP] [--max-tokens N] [--chat NAME | --no-history]
             [-f markdown|text|json|html|code] [--schema VAR] [--online] [-o VAR] [--background]
Explain {{df.shape}} rows of this frame. Code with {braces} is sent verbatim.
```

**Analyze** images, audio, video (paths, URLs, data URLs or notebook variables; several at once):

```
%%openrouter analyze photo.jpg fig arr clip.mp4 [-m MODEL] [-k image|audio|video] [-o VAR]
What is in these?
```

**Generate**:

```
%%openrouter image [--aspect 16:9] [--size 2K] [--ref SRC ...] [--save PATH] [-o VAR]
%%openrouter audio [--voice alloy] [--format wav|mp3|flac|opus|pcm16] [--save PATH]
%%openrouter speech [--voice V] [--format mp3] [--speed 1.2]        (text to speech)
%%openrouter video [--duration 4] [--resolution 720p] [--aspect 16:9] [--first-frame SRC]
                   [--save PATH] [--background]
```

**Embed** (the cell is one text; `--each` embeds every item; `-o` stores `.value`, a float32 array):

```
%openrouter embed --each df.text [-m MODEL] [--dimensions 256] [--save vecs.npy] [--batch] -o vecs
%%openrouter embed [-o vec]            (cell body = one text; with --each, a template: query: {{item}})
```

`%openrouter models --embed` lists the embedding models.

**Batch**: `%%openrouter --each items` (chat; `{{item}}` in the cell) or
`%%openrouter analyze --each images` — or from Python `or_magic.map("analyze_image", paths, question=...)`.
Add `--batch` for OpenRouter's Batch API (big jobs that survive restarts): `%openrouter batches`,
`%openrouter wait orb_…`; Python `or_magic.map(tool, items, engine="batch")`.

**Line commands**:
`%openrouter models [QUERY] [--vision --audio --video --image-out --audio-out --video-out --free]`,
`info MODEL`, `health`, `usage [reset]`, `jobs [--all]`, `batches`, `wait [ID]`, `cancel [ID]`,
`status VIDEO_ID [--wait] [--max-wait S] [--save PATH]` (a video job, also from an earlier kernel),
`reset [NAME|--all]`, `history [NAME]`, `log [QUERY] [-n N] [--json] [--here] [--chat NAME]`, `cache [clear]`,
`key [--save|--clear]`, `config`, `mcp start|stop|status [--port N]`, `dashboard`, `help`.

**Memory**: `--cache` answers a repeated request from the local cache ($0, footer `cached`);
`--max-cost USD` refuses a call estimated above USD; `--chat NAME --resume` continues a logged
conversation in a new kernel.

**Interpolation**: only `{{name}}`, `{{obj.attr}}`, `{{seq[0]}}`, `{{d['k']}}`, also `{{In[1]}}` (the
source of cell 1) and `{{_}}` (the last output); unknown names stay as written; `--raw` sends the
cell verbatim. Single braces are never touched.

**Results**: `-o VAR` stores a result with `.text .data .value .media .bytes .path .image() .usage
.cost .model .meta .raw`; `--background -o job` stores a `Job` (`job.wait()`, `await job`, `job.cancel()`).

**Settings**: `%config OpenRouterMagics.default_model = "openai/gpt-4o-mini"` (also `vision_model`,
`audio_model`, `video_model`, `image_model`, `audio_gen_model`, `tts_model`, `video_gen_model`,
`output_dir`, `streaming`, `history_length`, `inline_max_bytes`, `default_format`, `widgets`,
`cache`, `budget_usd`, `history_tokens`, `log_calls`, `engine`);
model aliases for `-m`: `%config OpenRouterMagics.aliases = {"fast": "openai/gpt-4o-mini"}`.
No API key → the offline double answers (results marked **offline**). `%openrouter key` sets one.
"""
