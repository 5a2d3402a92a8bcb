/* The latent space explorer (docs/explorer.md): the shipped decoders, run in the browser.
 *
 * Plain JavaScript, no library, no network: the weights and the scatter come from
 * explorer-data.js (window.scratchvaeExplorerData, written by scripts/export_explorer.py), one
 * base64 block of float32 little-endian arrays described by a JSON header.
 *
 * The decoder follows the package's conventions (scratchvae/layers.py, models/vae.py,
 * models/autoencoder.py): each Dense layer computes out = activation(x @ W + b) with
 * W (n_in, n_out); the last layer is linear and gives the logits; model.mean_image is
 * sigmoid(logits). Arithmetic is in float64 on the float32 weights.
 *
 * window.scratchvaeExplorer.decode(name, z) -> Array of the 784 pixel means at latent point z.
 * Planes are the canvases marked data-explorer="plane", images data-explorer="image".
 */
(function () {
  "use strict";

  // matplotlib's tab10, the colours of sv.plotting.latent_scatter
  var LABEL_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function sigmoid(x) {  // stable: exp of a non-positive number only
    if (x >= 0) { return 1 / (1 + Math.exp(-x)); }
    var e = Math.exp(x);
    return e / (1 + e);
  }

  function activationFunction(name, leakySlope) {
    switch (name) {
      case "identity": return null;
      case "relu": return function (x) { return x > 0 ? x : 0; };
      case "leaky_relu": return function (x) { return x > 0 ? x : leakySlope * x; };
      case "sigmoid": return sigmoid;
      case "tanh": return Math.tanh;
      case "softplus": return function (x) {
        return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
      };
      default: throw new Error("explorer: unknown activation " + name);
    }
  }

  function decodeBase64(text) {
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  var LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

  function arrayView(buffer, entry) {
    var n = entry.shape.reduce(function (a, b) { return a * b; }, 1);
    if (entry.dtype === "uint8") { return new Uint8Array(buffer, entry.offset, n); }
    if (entry.dtype !== "float32") { throw new Error("explorer: unknown dtype " + entry.dtype); }
    if (LITTLE_ENDIAN) { return new Float32Array(buffer, entry.offset, n); }
    var view = new DataView(buffer), out = new Float32Array(n);
    for (var i = 0; i < n; i++) { out[i] = view.getFloat32(entry.offset + 4 * i, true); }
    return out;
  }

  function buildModels(data) {
    var buffer = decodeBase64(data.data), models = {};
    Object.keys(data.header.models).forEach(function (name) {
      var spec = data.header.models[name];
      var layers = spec.layers.map(function (layer) {
        return { W: arrayView(buffer, layer.W), b: arrayView(buffer, layer.b),
                 nIn: layer.W.shape[0], nOut: layer.W.shape[1],
                 act: activationFunction(layer.activation, data.header.leaky_slope) };
      });
      var model = { name: name, spec: spec, nLatent: spec.n_latent, layers: layers };
      if (spec.output !== "sigmoid") { throw new Error("explorer: unknown output " + spec.output); }
      if (spec.scatter) {
        model.scatter = { z: arrayView(buffer, spec.scatter.z),
                          labels: arrayView(buffer, spec.scatter.labels),
                          extent: spec.scatter.extent };
      }
      models[name] = model;
    });
    return models;
  }

  // one decoder pass: z (nLatent numbers) -> Float64Array of the pixel means
  function decodeWith(model, z) {
    if (z.length !== model.nLatent) {
      throw new Error("explorer: z must have " + model.nLatent + " numbers for " + model.name +
                      "; got " + z.length);
    }
    var x = Float64Array.from(z);
    model.layers.forEach(function (layer) {
      var out = new Float64Array(layer.nOut), W = layer.W, nOut = layer.nOut, i, j;
      for (j = 0; j < nOut; j++) { out[j] = layer.b[j]; }
      for (i = 0; i < layer.nIn; i++) {
        var xi = x[i], row = i * nOut;
        if (xi === 0) { continue; }  // ReLU zeros add nothing
        for (j = 0; j < nOut; j++) { out[j] += xi * W[row + j]; }
      }
      if (layer.act) { for (j = 0; j < nOut; j++) { out[j] = layer.act(out[j]); } }
      x = out;
    });
    for (var k = 0; k < x.length; k++) { x[k] = sigmoid(x[k]); }  // mean_image: sigmoid(logits)
    return x;
  }

  function drawImage(canvas, pixels) {
    var ctx = canvas.getContext("2d"), image = ctx.createImageData(28, 28);
    for (var p = 0; p < 784; p++) {
      var grey = Math.round(255 * (1 - pixels[p]));  // ink dark on white, like the notebooks
      image.data[4 * p] = grey; image.data[4 * p + 1] = grey; image.data[4 * p + 2] = grey;
      image.data[4 * p + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }

  function niceStep(span) {
    var raw = span / 5, power = Math.pow(10, Math.floor(Math.log10(raw))), unit = raw / power;
    return power * (unit < 1.5 ? 1 : unit < 3.5 ? 2 : unit < 7.5 ? 5 : 10);
  }

  // a plane: the scatter drawn once into a background, the point under the pointer on top
  function setUpPlane(model, plane, imageCanvas, readout) {
    var size = plane.width, low = model.scatter.extent[0], high = model.scatter.extent[1];
    var toPixel = function (value) { return (value - low) / (high - low) * size; };
    var toLatent = function (pixel) { return low + pixel / size * (high - low); };
    var background = document.createElement("canvas");
    background.width = size; background.height = size;
    var bg = background.getContext("2d");
    bg.fillStyle = "#ffffff"; bg.fillRect(0, 0, size, size);
    var step = niceStep(high - low);
    bg.strokeStyle = "#e4e4e4"; bg.fillStyle = "#888888"; bg.font = "10px sans-serif";
    for (var t = Math.ceil(low / step) * step; t <= high; t += step) {
      var p = toPixel(t);
      bg.beginPath(); bg.moveTo(p, 0); bg.lineTo(p, size); bg.stroke();
      bg.beginPath(); bg.moveTo(0, size - p); bg.lineTo(size, size - p); bg.stroke();
      var label = String(Math.round(t * 100) / 100);
      var room = bg.measureText(label).width + 4;  // labels that fit inside the plane only
      if (p + room <= size) { bg.fillText(label, p + 2, size - 3); }
      if (Math.abs(t) > 1e-9 && size - p - 12 >= 0) { bg.fillText(label, 2, size - p - 2); }
    }
    var z = model.scatter.z, labels = model.scatter.labels;
    bg.globalAlpha = 0.75;
    for (var n = 0; n < labels.length; n++) {
      bg.fillStyle = LABEL_COLOURS[labels[n] % 10];
      bg.beginPath();
      bg.arc(toPixel(z[2 * n]), size - toPixel(z[2 * n + 1]), 1.8, 0, 2 * Math.PI);
      bg.fill();
    }
    bg.globalAlpha = 1;

    var ctx = plane.getContext("2d");
    function show(point) {  // point: [z0, z1]
      ctx.drawImage(background, 0, 0);
      var px = toPixel(point[0]), py = size - toPixel(point[1]);
      ctx.strokeStyle = "#000000"; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.arc(px, py, 6, 0, 2 * Math.PI); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(px - 10, py); ctx.lineTo(px + 10, py);
      ctx.moveTo(px, py - 10); ctx.lineTo(px, py + 10); ctx.stroke();
      drawImage(imageCanvas, decodeWith(model, point));
      readout.textContent = "z = (" + point[0].toFixed(2) + ", " + point[1].toFixed(2) + ")";
      plane.dataset.z = JSON.stringify(point);
    }
    var current = [0, 0];
    function fromEvent(event) {
      var box = plane.getBoundingClientRect();
      var x = (event.clientX - box.left) / box.width * size;
      var y = (event.clientY - box.top) / box.height * size;
      return [toLatent(x), toLatent(size - y)];
    }
    plane.addEventListener("pointermove", function (event) {
      current = fromEvent(event); show(current);
    });
    plane.addEventListener("pointerdown", function (event) {
      current = fromEvent(event); show(current);
    });
    plane.addEventListener("keydown", function (event) {  // arrow keys move the point
      var delta = (high - low) / 50, moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0],
                                                ArrowUp: [0, 1], ArrowDown: [0, -1] };
      var move = moves[event.key];
      if (!move) { return; }
      event.preventDefault();
      current = [Math.min(high, Math.max(low, current[0] + move[0] * delta)),
                 Math.min(high, Math.max(low, current[1] + move[1] * delta))];
      show(current);
    });
    show(current);
  }

  function setUpSliders(model, holder, imageCanvas, readout) {
    var sliders = [];
    function update() {
      var z = sliders.map(function (s) { return Number(s.input.value); });
      sliders.forEach(function (s, i) { s.value.textContent = z[i].toFixed(2); });
      drawImage(imageCanvas, decodeWith(model, z));
      readout.textContent = "z = (" + z.map(function (v) { return v.toFixed(2); }).join(", ") + ")";
    }
    for (var d = 0; d < model.nLatent; d++) {
      var row = document.createElement("label"), name = document.createElement("span");
      var input = document.createElement("input"), value = document.createElement("output");
      row.className = "explorer-slider";
      name.textContent = "z" + d;
      input.type = "range"; input.min = "-3"; input.max = "3"; input.step = "0.01"; input.value = "0";
      input.setAttribute("data-explorer", "slider");
      input.setAttribute("aria-label", "latent coordinate z" + d);
      input.addEventListener("input", update);
      row.appendChild(name); row.appendChild(input); row.appendChild(value);
      holder.appendChild(row);
      sliders.push({ input: input, value: value });
    }
    var buttons = document.createElement("div"), reset = document.createElement("button");
    var draw = document.createElement("button");
    buttons.className = "explorer-buttons";
    reset.type = "button"; reset.textContent = "all zero";
    draw.type = "button"; draw.textContent = "draw z ~ N(0, I)";
    reset.addEventListener("click", function () {
      sliders.forEach(function (s) { s.input.value = "0"; }); update();
    });
    draw.addEventListener("click", function () {
      sliders.forEach(function (s) {  // Box-Muller; Math.random is fine for a picture
        var g = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
        s.input.value = String(Math.max(-3, Math.min(3, g)));
      });
      update();
    });
    buttons.appendChild(reset); buttons.appendChild(draw);
    holder.appendChild(buttons);
    update();
  }

  function setUpLegend(element) {
    LABEL_COLOURS.forEach(function (colour, digit) {
      var item = document.createElement("span"), swatch = document.createElement("span");
      item.className = "explorer-legend-item";
      swatch.className = "explorer-swatch"; swatch.style.background = colour;
      item.appendChild(swatch); item.appendChild(document.createTextNode(String(digit)));
      element.appendChild(item);
    });
  }

  function start() {
    var data = window.scratchvaeExplorerData;
    if (!data) { throw new Error("explorer: explorer-data.js did not load"); }
    var models = buildModels(data);
    window.scratchvaeExplorer = {
      models: Object.keys(models),
      decode: function (name, z) {
        if (!models[name]) {
          throw new Error("explorer: model must be one of " + Object.keys(models).join(", ") +
                          "; got " + name);
        }
        return Array.from(decodeWith(models[name], z));
      },
      ready: true
    };
    document.querySelectorAll(".explorer-panel[data-model]").forEach(function (panel) {
      var model = models[panel.getAttribute("data-model")];
      var image = panel.querySelector('[data-explorer="image"]');
      var readout = panel.querySelector(".explorer-readout");
      var plane = panel.querySelector('[data-explorer="plane"]');
      var sliders = panel.querySelector(".explorer-sliders");
      if (plane) { setUpPlane(model, plane, image, readout); }
      if (sliders) { setUpSliders(model, sliders, image, readout); }
    });
    document.querySelectorAll(".explorer-legend").forEach(setUpLegend);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
