{
 "patcher": {
  "fileversion": 1,
  "appversion": {
   "major": 8,
   "minor": 6,
   "revision": 0,
   "architecture": "x64",
   "modernui": 1
  },
  "classnamespace": "box",
  "rect": [
   100.0,
   100.0,
   1000.0,
   700.0
  ],
  "openinpresentation": 1,
  "default_fontsize": 10.0,
  "default_fontname": "Arial Bold",
  "gridsize": [
   8.0,
   8.0
  ],
  "description": "DITTO-2 controllable generation: sends this clip's melody, loop and intensity to ditto-live",
  "digest": "ditto_live",
  "tags": "ditto_live",
  "boxes": [
   {
    "box": {
     "id": "obj-1",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      20.0,
      90.0,
      22.0
     ],
     "outlettype": [
      "bang",
      "int",
      "int"
     ],
     "text": "live.thisdevice"
    }
   },
   {
    "box": {
     "id": "obj-2",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      50.0,
      40.0,
      22.0
     ],
     "outlettype": [
      "bang",
      "bang"
     ],
     "text": "t b b"
    }
   },
   {
    "box": {
     "id": "obj-3",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      70.0,
      80.0,
      35.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "init"
    }
   },
   {
    "box": {
     "id": "obj-4",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 4,
     "patching_rect": [
      20.0,
      420.0,
      200.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      "",
      ""
     ],
     "text": "js ditto_live_device.js",
     "saved_object_attributes": {
      "filename": "ditto_live_device.js",
      "parameter_enable": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-5",
     "maxclass": "live.dial",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      120.0,
      60.0,
      48.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      6.0,
      4.0,
      58.0,
      48.0
     ],
     "parameter_enable": 1,
     "varname": "Intensity",
     "annotation": "Target loudness of the result (smoothed RMS, dB). Automate it in a session clip's envelope to shape the level over the clip; otherwise this value holds for the whole clip.",
     "annotation_name": "Intensity",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Intensity",
       "parameter_shortname": "Intensity",
       "parameter_type": 0,
       "parameter_invisible": 0,
       "parameter_mmin": -60.0,
       "parameter_mmax": 0.0,
       "parameter_initial": [
        -20.0
       ],
       "parameter_initial_enable": 1,
       "parameter_unitstyle": 4
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-6",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      90.0,
      120.0,
      60.0,
      18.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      6.0,
      56.0,
      58.0,
      17.0
     ],
     "parameter_enable": 1,
     "varname": "Melody",
     "annotation": "On: the clip's unmuted notes inside the loop brace become the melody the result follows.",
     "annotation_name": "Melody",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Melody",
       "parameter_shortname": "Melody",
       "parameter_type": 2,
       "parameter_invisible": 0,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1,
       "parameter_initial": [
        1
       ],
       "parameter_initial_enable": 1
      }
     },
     "mode": 1,
     "text": "Melody",
     "texton": "Melody"
    }
   },
   {
    "box": {
     "id": "obj-7",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      160.0,
      120.0,
      60.0,
      18.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      6.0,
      76.0,
      58.0,
      17.0
     ],
     "parameter_enable": 1,
     "varname": "Use_Intensity",
     "annotation": "On: send the Intensity target (envelope or dial). Off: loudness is left to the model.",
     "annotation_name": "Use Intensity",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Use Intensity",
       "parameter_shortname": "Use Intensit",
       "parameter_type": 2,
       "parameter_invisible": 0,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1,
       "parameter_initial": [
        1
       ],
       "parameter_initial_enable": 1
      }
     },
     "mode": 1,
     "text": "Intensity",
     "texton": "Intensity"
    }
   },
   {
    "box": {
     "id": "obj-8",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      140.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      6.0,
      98.0,
      58.0,
      15.0
     ],
     "text": "Seed",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-9",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      230.0,
      120.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      6.0,
      114.0,
      58.0,
      15.0
     ],
     "parameter_enable": 1,
     "varname": "Seed",
     "annotation": "Random seed. The same seed and settings give the same clip; change it for another take.",
     "annotation_name": "Seed",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Seed",
       "parameter_shortname": "Seed",
       "parameter_type": 0,
       "parameter_invisible": 0,
       "parameter_mmin": 0.0,
       "parameter_mmax": 99999.0,
       "parameter_initial": [
        0.0
       ],
       "parameter_initial_enable": 1,
       "parameter_unitstyle": 0
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-10",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      180.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      70.0,
      4.0,
      58.0,
      16.0
     ],
     "text": "Genre",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-11",
     "maxclass": "live.menu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      300.0,
      120.0,
      100.0,
      15.0
     ],
     "outlettype": [
      "",
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      128.0,
      5.0,
      100.0,
      15.0
     ],
     "parameter_enable": 1,
     "varname": "Genre",
     "annotation": "Genre tag for the model (Any: none).",
     "annotation_name": "Genre",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Genre",
       "parameter_shortname": "Genre",
       "parameter_type": 2,
       "parameter_invisible": 0,
       "parameter_enum": [
        "Any",
        "Chorale",
        "Folk",
        "Irish Folk",
        "Fiddle",
        "Renaissance",
        "Dance"
       ],
       "parameter_mmax": 6,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-12",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      220.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      70.0,
      23.0,
      58.0,
      16.0
     ],
     "text": "Mood",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-13",
     "maxclass": "live.menu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      410.0,
      120.0,
      100.0,
      15.0
     ],
     "outlettype": [
      "",
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      128.0,
      24.0,
      100.0,
      15.0
     ],
     "parameter_enable": 1,
     "varname": "Mood",
     "annotation": "Mood tag for the model (Any: none).",
     "annotation_name": "Mood",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Mood",
       "parameter_shortname": "Mood",
       "parameter_type": 2,
       "parameter_invisible": 0,
       "parameter_enum": [
        "Any",
        "Major",
        "Minor"
       ],
       "parameter_mmax": 2,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-14",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      260.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      70.0,
      42.0,
      58.0,
      16.0
     ],
     "text": "Instrument",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-15",
     "maxclass": "live.menu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      520.0,
      120.0,
      100.0,
      15.0
     ],
     "outlettype": [
      "",
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      128.0,
      43.0,
      100.0,
      15.0
     ],
     "parameter_enable": 1,
     "varname": "Instrument",
     "annotation": "Instrument tag for the model (Any: none).",
     "annotation_name": "Instrument",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Instrument",
       "parameter_shortname": "Instrument",
       "parameter_type": 2,
       "parameter_invisible": 0,
       "parameter_enum": [
        "Any",
        "Piano",
        "Electric Piano",
        "Organ",
        "Strings",
        "Guitar",
        "Woodwinds",
        "Brass",
        "Choir",
        "Mallets",
        "Harp",
        "Synth",
        "Accordion"
       ],
       "parameter_mmax": 12,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-16",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      300.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      70.0,
      61.0,
      58.0,
      16.0
     ],
     "text": "Quality",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-17",
     "maxclass": "live.menu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      630.0,
      120.0,
      100.0,
      15.0
     ],
     "outlettype": [
      "",
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      128.0,
      62.0,
      100.0,
      15.0
     ],
     "parameter_enable": 1,
     "varname": "Quality",
     "annotation": "Draft is fastest; Normal uses each control's default steps; High optimises longer; DITTO (slow) is the original method, for comparison.",
     "annotation_name": "Quality",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Quality",
       "parameter_shortname": "Quality",
       "parameter_type": 2,
       "parameter_invisible": 0,
       "parameter_enum": [
        "Draft",
        "Normal",
        "High",
        "DITTO (slow)"
       ],
       "parameter_mmax": 3,
       "parameter_initial": [
        1
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-18",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      340.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      70.0,
      80.0,
      58.0,
      16.0
     ],
     "text": "Mode",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-19",
     "maxclass": "live.menu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      740.0,
      120.0,
      100.0,
      15.0
     ],
     "outlettype": [
      "",
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      128.0,
      81.0,
      100.0,
      15.0
     ],
     "parameter_enable": 1,
     "varname": "Mode",
     "annotation": "New: generate the loop. Inpaint: regenerate the loop brace inside the audio clip beside this one on the target track. Continue: continue that clip. Loop: a seamless loop.",
     "annotation_name": "Mode",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Mode",
       "parameter_shortname": "Mode",
       "parameter_type": 2,
       "parameter_invisible": 0,
       "parameter_enum": [
        "New",
        "Inpaint",
        "Continue",
        "Loop"
       ],
       "parameter_mmax": 3,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-20",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      380.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      70.0,
      100.0,
      58.0,
      16.0
     ],
     "text": "Target",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-21",
     "maxclass": "umenu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      200.0,
      120.0,
      22.0
     ],
     "outlettype": [
      "int",
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      128.0,
      101.0,
      100.0,
      17.0
     ],
     "items": [],
     "varname": "target_track",
     "annotation": "The audio track that receives results. A saved track that is missing shows as (missing) until you pick another.",
     "annotation_name": "Target"
    }
   },
   {
    "box": {
     "id": "obj-22",
     "maxclass": "textedit",
     "numinlets": 1,
     "numoutlets": 4,
     "patching_rect": [
      20.0,
      240.0,
      200.0,
      22.0
     ],
     "outlettype": [
      "",
      "int",
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      236.0,
      4.0,
      318.0,
      20.0
     ],
     "varname": "caption",
     "hint": "describe the sound (text control), press Enter",
     "fontsize": 10.0,
     "annotation": "Describe the sound (text control). Press Enter to apply.",
     "annotation_name": "Caption"
    }
   },
   {
    "box": {
     "id": "obj-23",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      280.0,
      100.0,
      20.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      236.0,
      28.0,
      100.0,
      22.0
     ],
     "parameter_enable": 1,
     "varname": "Generate",
     "annotation": "Read this track's clip and send the job to ditto-live serve.",
     "annotation_name": "Generate",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Generate",
       "parameter_shortname": "Generate",
       "parameter_type": 2,
       "parameter_invisible": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1
      }
     },
     "mode": 0,
     "text": "Generate",
     "texton": "Generate"
    }
   },
   {
    "box": {
     "id": "obj-24",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      330.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "generate"
    }
   },
   {
    "box": {
     "id": "obj-25",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      130.0,
      280.0,
      100.0,
      20.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      342.0,
      28.0,
      70.0,
      22.0
     ],
     "parameter_enable": 1,
     "varname": "Cancel",
     "annotation": "Stop the running or queued job, or stop reading the clip.",
     "annotation_name": "Cancel",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Cancel",
       "parameter_shortname": "Cancel",
       "parameter_type": 2,
       "parameter_invisible": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1
      }
     },
     "mode": 0,
     "text": "Cancel",
     "texton": "Cancel"
    }
   },
   {
    "box": {
     "id": "obj-26",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      130.0,
      330.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "cancel"
    }
   },
   {
    "box": {
     "id": "obj-27",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      240.0,
      280.0,
      100.0,
      20.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      418.0,
      28.0,
      136.0,
      22.0
     ],
     "parameter_enable": 1,
     "varname": "Check_Server",
     "annotation": "Check the server now; the outcome shows on the status line.",
     "annotation_name": "Check Server",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Check Server",
       "parameter_shortname": "Check Server",
       "parameter_type": 2,
       "parameter_invisible": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1
      }
     },
     "mode": 0,
     "text": "Check Server",
     "texton": "Check Server"
    }
   },
   {
    "box": {
     "id": "obj-28",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      240.0,
      330.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "ping"
    }
   },
   {
    "box": {
     "id": "obj-29",
     "maxclass": "slider",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      350.0,
      280.0,
      150.0,
      16.0
     ],
     "outlettype": [
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      236.0,
      54.0,
      318.0,
      8.0
     ],
     "orientation": 1,
     "size": 101.0,
     "ignoreclick": 1,
     "varname": "progress"
    }
   },
   {
    "box": {
     "id": "obj-30",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      350.0,
      300.0,
      300.0,
      30.0
     ],
     "presentation": 1,
     "presentation_rect": [
      236.0,
      64.0,
      318.0,
      44.0
     ],
     "text": "Loading...",
     "linecount": 3,
     "fontsize": 9.5,
     "varname": "status",
     "annotation": "What the device is doing, the job's progress, and any error in words.",
     "annotation_name": "Status"
    }
   },
   {
    "box": {
     "id": "obj-31",
     "maxclass": "textedit",
     "numinlets": 1,
     "numoutlets": 4,
     "patching_rect": [
      350.0,
      340.0,
      300.0,
      22.0
     ],
     "outlettype": [
      "",
      "int",
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      236.0,
      110.0,
      118.0,
      18.0
     ],
     "readonly": 1,
     "fontsize": 9.0,
     "varname": "result_path",
     "hint": "result WAV (drag it in on Live < 12.0.5)",
     "annotation": "The last WAV the server wrote.",
     "annotation_name": "Result"
    }
   },
   {
    "box": {
     "id": "obj-32",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      660.0,
      340.0,
      60.0,
      20.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      490.0,
      110.0,
      64.0,
      18.0
     ],
     "parameter_enable": 1,
     "varname": "Show_File",
     "annotation": "Open the folder of the last result. Drag the WAV onto a track when Live could not place it.",
     "annotation_name": "Show File",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Show File",
       "parameter_shortname": "Show File",
       "parameter_type": 2,
       "parameter_invisible": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1
      }
     },
     "mode": 0,
     "text": "Show file",
     "texton": "Show file"
    }
   },
   {
    "box": {
     "id": "obj-33",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      660.0,
      390.0,
      50.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "reveal"
    }
   },
   {
    "box": {
     "id": "obj-34",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      740.0,
      340.0,
      60.0,
      20.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      358.0,
      110.0,
      62.0,
      18.0
     ],
     "parameter_enable": 1,
     "varname": "Audition",
     "annotation": "Play the waiting result on the target track (a preview clip in an empty scene slot); press again to stop it.",
     "annotation_name": "Audition",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Audition",
       "parameter_shortname": "Audition",
       "parameter_type": 2,
       "parameter_invisible": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1
      }
     },
     "mode": 0,
     "text": "Audition",
     "texton": "Audition"
    }
   },
   {
    "box": {
     "id": "obj-35",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      740.0,
      390.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "audition"
    }
   },
   {
    "box": {
     "id": "obj-36",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      810.0,
      340.0,
      60.0,
      20.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      424.0,
      110.0,
      62.0,
      18.0
     ],
     "parameter_enable": 1,
     "varname": "Place",
     "annotation": "Put the waiting result on the target track, as without Review first, and remove the preview clip.",
     "annotation_name": "Place",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Place",
       "parameter_shortname": "Place",
       "parameter_type": 2,
       "parameter_invisible": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1
      }
     },
     "mode": 0,
     "text": "Place",
     "texton": "Place"
    }
   },
   {
    "box": {
     "id": "obj-37",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      810.0,
      390.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "place"
    }
   },
   {
    "box": {
     "id": "obj-38",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      880.0,
      340.0,
      70.0,
      20.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      128.0,
      120.0,
      100.0,
      13.0
     ],
     "parameter_enable": 1,
     "varname": "Review",
     "annotation": "On: a finished result waits for Audition and Place. Off: it lands on the target track at once.",
     "annotation_name": "Review",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Review",
       "parameter_shortname": "Review",
       "parameter_type": 2,
       "parameter_invisible": 1,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1
      }
     },
     "mode": 1,
     "text": "Review first",
     "texton": "Review first"
    }
   },
   {
    "box": {
     "id": "obj-39",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      760.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      236.0,
      132.0,
      40.0,
      16.0
     ],
     "text": "Server",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-40",
     "maxclass": "textedit",
     "numinlets": 1,
     "numoutlets": 4,
     "patching_rect": [
      20.0,
      370.0,
      120.0,
      22.0
     ],
     "outlettype": [
      "",
      "int",
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      276.0,
      132.0,
      90.0,
      16.0
     ],
     "text": "127.0.0.1",
     "fontsize": 9.0,
     "varname": "host",
     "annotation": "The computer ditto-live serve runs on (default 127.0.0.1: this one).",
     "annotation_name": "Server"
    }
   },
   {
    "box": {
     "id": "obj-41",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      395.0,
      60.0,
      22.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "text": "route text"
    }
   },
   {
    "box": {
     "id": "obj-42",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      820.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      370.0,
      132.0,
      30.0,
      16.0
     ],
     "text": "Port",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-43",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      150.0,
      370.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      400.0,
      132.0,
      50.0,
      15.0
     ],
     "parameter_enable": 1,
     "varname": "Port",
     "annotation": "The UDP port ditto-live serve listens on (default 9010, --port).",
     "annotation_name": "Port",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Port",
       "parameter_shortname": "Port",
       "parameter_type": 0,
       "parameter_invisible": 1,
       "parameter_mmin": 1024.0,
       "parameter_mmax": 65535.0,
       "parameter_initial": [
        9010.0
       ],
       "parameter_initial_enable": 1,
       "parameter_unitstyle": 0
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-44",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      900.0,
      860.0,
      100.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      456.0,
      132.0,
      34.0,
      16.0
     ],
     "text": "Reply",
     "fontsize": 9.5
    }
   },
   {
    "box": {
     "id": "obj-45",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      210.0,
      370.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      490.0,
      132.0,
      50.0,
      15.0
     ],
     "parameter_enable": 1,
     "varname": "Reply_Port",
     "annotation": "The UDP port this device receives replies on (default 9011). Give each DittoLive its own.",
     "annotation_name": "Reply Port",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Reply Port",
       "parameter_shortname": "Reply Port",
       "parameter_type": 0,
       "parameter_invisible": 1,
       "parameter_mmin": 1024.0,
       "parameter_mmax": 65535.0,
       "parameter_initial": [
        9011.0
       ],
       "parameter_initial_enable": 1,
       "parameter_unitstyle": 0
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-46",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      450.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend intensity"
    }
   },
   {
    "box": {
     "id": "obj-47",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      450.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend use_melody"
    }
   },
   {
    "box": {
     "id": "obj-48",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      220.0,
      450.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend use_intensity"
    }
   },
   {
    "box": {
     "id": "obj-49",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      320.0,
      450.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend seed"
    }
   },
   {
    "box": {
     "id": "obj-50",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      420.0,
      450.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend genre"
    }
   },
   {
    "box": {
     "id": "obj-51",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      520.0,
      450.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend mood"
    }
   },
   {
    "box": {
     "id": "obj-52",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      620.0,
      450.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend instrument"
    }
   },
   {
    "box": {
     "id": "obj-53",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      475.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend quality"
    }
   },
   {
    "box": {
     "id": "obj-54",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      475.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend mode"
    }
   },
   {
    "box": {
     "id": "obj-55",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      220.0,
      475.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend target"
    }
   },
   {
    "box": {
     "id": "obj-56",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      320.0,
      475.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend review"
    }
   },
   {
    "box": {
     "id": "obj-57",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      420.0,
      475.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend host"
    }
   },
   {
    "box": {
     "id": "obj-58",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      520.0,
      475.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend port"
    }
   },
   {
    "box": {
     "id": "obj-59",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      620.0,
      475.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend reply_port"
    }
   },
   {
    "box": {
     "id": "obj-60",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      560.0,
      140.0,
      22.0
     ],
     "text": "udpsend 127.0.0.1 9010"
    }
   },
   {
    "box": {
     "id": "obj-61",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      200.0,
      560.0,
      100.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "udpreceive 9011"
    }
   },
   {
    "box": {
     "id": "obj-62",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      200.0,
      590.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "deferlow"
    }
   },
   {
    "box": {
     "id": "obj-63",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      320.0,
      560.0,
      140.0,
      22.0
     ],
     "text": "udpsend 127.0.0.1 9011"
    }
   },
   {
    "box": {
     "id": "obj-64",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      800.0,
      20.0,
      50.0,
      22.0
     ],
     "outlettype": [
      "int"
     ],
     "text": "midiin"
    }
   },
   {
    "box": {
     "id": "obj-65",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      800.0,
      60.0,
      55.0,
      22.0
     ],
     "text": "midiout"
    }
   },
   {
    "box": {
     "id": "obj-66",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      350.0,
      620.0,
      220.0,
      18.0
     ],
     "presentation": 1,
     "presentation_rect": [
      6.0,
      134.0,
      222.0,
      16.0
     ],
     "text": "Server: checking...",
     "fontsize": 9.0,
     "varname": "server_state",
     "annotation": "The server's state: checking, not running, reply port not receiving, connected, warming up, ready, or protocol mismatch.",
     "annotation_name": "Server line"
    }
   },
   {
    "box": {
     "id": "obj-67",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      800.0,
      120.0,
      140.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      ""
     ],
     "text": "pattr @parameter_enable 1",
     "varname": "saved_target",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Target Track",
       "parameter_shortname": "Target Track",
       "parameter_type": 3,
       "parameter_invisible": 1
      }
     },
     "saved_object_attributes": {
      "parameter_enable": 1,
      "parameter_mappable": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-68",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      800.0,
      150.0,
      130.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend restore_target"
    }
   },
   {
    "box": {
     "id": "obj-69",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      800.0,
      180.0,
      140.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      ""
     ],
     "text": "pattr @parameter_enable 1",
     "varname": "saved_host",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Server Host",
       "parameter_shortname": "Server Host",
       "parameter_type": 3,
       "parameter_invisible": 1
      }
     },
     "saved_object_attributes": {
      "parameter_enable": 1,
      "parameter_mappable": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-70",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      800.0,
      210.0,
      130.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend restore_host"
    }
   },
   {
    "box": {
     "id": "obj-71",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      800.0,
      240.0,
      140.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      ""
     ],
     "text": "pattr @parameter_enable 1",
     "varname": "saved_caption",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Caption",
       "parameter_shortname": "Caption",
       "parameter_type": 3,
       "parameter_invisible": 1
      }
     },
     "saved_object_attributes": {
      "parameter_enable": 1,
      "parameter_mappable": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-72",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      800.0,
      270.0,
      130.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend restore_caption"
    }
   },
   {
    "box": {
     "id": "obj-73",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 15,
     "patching_rect": [
      250.0,
      450.0,
      400.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      ""
     ],
     "text": "route status progress path tracks generate_active cancel_active reveal server store_target store_host store_caption host_text caption_text review_active"
    }
   },
   {
    "box": {
     "id": "obj-74",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      420.0,
      480.0,
      90.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend active"
    }
   },
   {
    "box": {
     "id": "obj-75",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      520.0,
      480.0,
      90.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend active"
    }
   },
   {
    "box": {
     "id": "obj-76",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      620.0,
      480.0,
      160.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": ";\rmax launchbrowser $1"
    }
   },
   {
    "box": {
     "id": "obj-77",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      620.0,
      510.0,
      90.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend active"
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "obj-1",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      1
     ],
     "destination": [
      "obj-3",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-3",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-22",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-23",
      0
     ],
     "destination": [
      "obj-24",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-24",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-25",
      0
     ],
     "destination": [
      "obj-26",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-26",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-27",
      0
     ],
     "destination": [
      "obj-28",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-28",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-32",
      0
     ],
     "destination": [
      "obj-33",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-34",
      0
     ],
     "destination": [
      "obj-35",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-35",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-36",
      0
     ],
     "destination": [
      "obj-37",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-37",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-40",
      0
     ],
     "destination": [
      "obj-41",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-5",
      0
     ],
     "destination": [
      "obj-46",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-46",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-5",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-6",
      0
     ],
     "destination": [
      "obj-47",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-47",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-7",
      0
     ],
     "destination": [
      "obj-48",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-48",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      0
     ],
     "destination": [
      "obj-49",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-49",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-9",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-11",
      0
     ],
     "destination": [
      "obj-50",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-50",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-11",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-13",
      0
     ],
     "destination": [
      "obj-51",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-51",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-13",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-15",
      0
     ],
     "destination": [
      "obj-52",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-52",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-15",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-17",
      0
     ],
     "destination": [
      "obj-53",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-53",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-17",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-19",
      0
     ],
     "destination": [
      "obj-54",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-54",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-19",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-21",
      0
     ],
     "destination": [
      "obj-55",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-55",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-38",
      0
     ],
     "destination": [
      "obj-56",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-56",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-41",
      0
     ],
     "destination": [
      "obj-57",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-57",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-40",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-43",
      0
     ],
     "destination": [
      "obj-58",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-58",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-43",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-45",
      0
     ],
     "destination": [
      "obj-59",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-59",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-2",
      0
     ],
     "destination": [
      "obj-45",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-4",
      0
     ],
     "destination": [
      "obj-60",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-4",
      2
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-61",
      0
     ],
     "destination": [
      "obj-62",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-62",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-4",
      3
     ],
     "destination": [
      "obj-63",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-64",
      0
     ],
     "destination": [
      "obj-65",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-67",
      0
     ],
     "destination": [
      "obj-68",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-68",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-69",
      0
     ],
     "destination": [
      "obj-70",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-70",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-71",
      0
     ],
     "destination": [
      "obj-72",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-72",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-4",
      1
     ],
     "destination": [
      "obj-73",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      0
     ],
     "destination": [
      "obj-30",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      1
     ],
     "destination": [
      "obj-29",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      2
     ],
     "destination": [
      "obj-31",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      3
     ],
     "destination": [
      "obj-21",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      4
     ],
     "destination": [
      "obj-74",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      5
     ],
     "destination": [
      "obj-75",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      6
     ],
     "destination": [
      "obj-76",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      7
     ],
     "destination": [
      "obj-66",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      8
     ],
     "destination": [
      "obj-67",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      9
     ],
     "destination": [
      "obj-69",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      10
     ],
     "destination": [
      "obj-71",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      11
     ],
     "destination": [
      "obj-40",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      12
     ],
     "destination": [
      "obj-22",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      13
     ],
     "destination": [
      "obj-77",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-74",
      0
     ],
     "destination": [
      "obj-23",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      0
     ],
     "destination": [
      "obj-25",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-77",
      0
     ],
     "destination": [
      "obj-34",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-77",
      0
     ],
     "destination": [
      "obj-36",
      0
     ]
    }
   }
  ],
  "parameters": {
   "obj-5": [
    "Intensity",
    "Intensity",
    0
   ],
   "obj-6": [
    "Melody",
    "Melody",
    0
   ],
   "obj-7": [
    "Use Intensity",
    "Use Intensit",
    0
   ],
   "obj-9": [
    "Seed",
    "Seed",
    0
   ],
   "obj-11": [
    "Genre",
    "Genre",
    0
   ],
   "obj-13": [
    "Mood",
    "Mood",
    0
   ],
   "obj-15": [
    "Instrument",
    "Instrument",
    0
   ],
   "obj-17": [
    "Quality",
    "Quality",
    0
   ],
   "obj-19": [
    "Mode",
    "Mode",
    0
   ],
   "obj-23": [
    "Generate",
    "Generate",
    0
   ],
   "obj-25": [
    "Cancel",
    "Cancel",
    0
   ],
   "obj-27": [
    "Check Server",
    "Check Server",
    0
   ],
   "obj-32": [
    "Show File",
    "Show File",
    0
   ],
   "obj-34": [
    "Audition",
    "Audition",
    0
   ],
   "obj-36": [
    "Place",
    "Place",
    0
   ],
   "obj-38": [
    "Review",
    "Review",
    0
   ],
   "obj-43": [
    "Port",
    "Port",
    0
   ],
   "obj-45": [
    "Reply Port",
    "Reply Port",
    0
   ],
   "obj-67": [
    "Target Track",
    "Target Track",
    0
   ],
   "obj-69": [
    "Server Host",
    "Server Host",
    0
   ],
   "obj-71": [
    "Caption",
    "Caption",
    0
   ],
   "inherited_shortname": 1
  },
  "dependency_cache": [
   {
    "name": "ditto_live_device.js",
    "bootpath": ".",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   }
  ],
  "latency": 0,
  "is_mpe": 0,
  "minimum_live_version": "",
  "minimum_max_version": "",
  "platform_compatibility": 0,
  "autosave": 0
 }
}
